// VCRcovery status page: optional enhancements only. Without this script the
// page still reads fine and the action buttons go through /confirm.
(function () {
  "use strict";

  function flash(text, bad) {
    var el = document.getElementById("flash");
    if (!el) return;
    el.textContent = text;
    el.className = bad ? "bad" : "good";
    el.hidden = false;
  }

  // Actions: ask, POST to the API, say what happened, refresh.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.classList || !form.classList.contains("action")) return;
    ev.preventDefault();
    if (!window.confirm(form.getAttribute("data-question"))) return;
    var btn = form.querySelector("button");
    if (btn) btn.disabled = true;
    fetch(form.getAttribute("data-post"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (body) {
        if (resp.ok) {
          flash("Done: incident " + body.id + " is " + body.state + ".", false);
        } else {
          flash("Refused (" + resp.status + "): " + (body.error || resp.statusText), true);
        }
      });
    }).catch(function (err) {
      flash("The receiver could not be reached: " + err, true);
    }).then(function () {
      if (btn) btn.disabled = false;
      refresh();
    });
  });

  // Refresh: fetch the same page and swap <main>, so a running incident's
  // timeline grows without a full reload or losing the scroll position.
  function refresh() {
    return fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (resp) { return resp.ok ? resp.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("main"), cur = document.querySelector("main");
        if (fresh && cur) cur.innerHTML = fresh.innerHTML;
        var t = doc.getElementById("asof"), ct = document.getElementById("asof");
        if (t && ct) ct.textContent = t.textContent;
      })
      .catch(function () { /* keep the old data; try again next tick */ });
  }

  var every = parseInt(document.body.getAttribute("data-refresh"), 10);
  if (every > 0) {
    var header = document.querySelector("body > header");
    var label = document.createElement("label");
    label.className = "auto";
    var box = document.createElement("input");
    box.type = "checkbox";
    box.checked = true;
    box.id = "autorefresh";
    label.appendChild(box);
    label.appendChild(document.createTextNode(" refresh every " + every + "s"));
    if (header) header.appendChild(label);
    document.documentElement.classList.add("js");
    setInterval(function () {
      if (box.checked && !document.hidden) refresh();
    }, every * 1000);
  }
})();
