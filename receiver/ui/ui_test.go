package ui

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/vcrcovery/vcrcovery/internal/testfixture"
	"github.com/vcrcovery/vcrcovery/receiver/api"
)

func newTestHandler(src Source, opts Options) http.Handler {
	opts.Now = func() time.Time { return fixedNow }
	return New(src, opts)
}

func TestIndexServicesAndActions(t *testing.T) {
	f := loadFixture(t)
	code, doc, _ := get(t, newTestHandler(f.source(), Options{}), "/")
	if code != 200 {
		t.Fatalf("GET / = %d", code)
	}
	rows := find(doc, func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-service") != "" })
	var names []string
	for _, r := range rows {
		names = append(names, attr(r, "data-service"))
	}
	if strings.Join(names, ",") != "api,db,mail,web" {
		t.Fatalf("service rows %v, want api,db,mail,web", names)
	}
	// Which actions each service offers follows its location and incident.
	wantPosts := map[string][]string{
		"api":  nil, // held by an open incident
		"db":   {"/api/v1/services/db/failback"},
		"mail": {"/api/v1/services/mail/failover", "/api/v1/services/mail/drill"},
		"web":  nil,
	}
	for _, r := range rows {
		var posts []string
		for _, form := range find(r, func(n *html.Node) bool { return n.Data == "form" }) {
			posts = append(posts, attr(form, "data-post"))
			// Without JS the form GETs the confirmation page.
			if attr(form, "method") != "get" || attr(form, "action") != "/confirm" {
				t.Errorf("%s: form method=%q action=%q, want get /confirm", attr(r, "data-service"), attr(form, "method"), attr(form, "action"))
			}
		}
		if want := wantPosts[attr(r, "data-service")]; strings.Join(posts, " ") != strings.Join(want, " ") {
			t.Errorf("%s: actions %v, want %v", attr(r, "data-service"), posts, want)
		}
	}
	// The script's confirm() asks with the plan's phases.
	mailForms := find(rows[2], func(n *html.Node) bool { return n.Data == "form" })
	if q := attr(mailForms[0], "data-question"); !strings.HasPrefix(q, "Fail mail over to its standby?\n\nfence: destroy the primary mail01") {
		t.Errorf("mail failover asks %q; want the question and the plan's phases", q)
	}
	if q := attr(mailForms[1], "data-question"); !strings.Contains(q, "fence: skipped (drill: the primary is healthy and stays up)") {
		t.Errorf("mail drill asks %q; want it to say the primary is not fenced", q)
	}
	dbRow := text(rows[1])
	for _, want := range []string{"standby container", "cold", "db.example.test.", "127.0.0.2"} {
		if !strings.Contains(dbRow, want) {
			t.Errorf("db row %q lacks %q", dbRow, want)
		}
	}
	if webRow := text(rows[3]); !strings.Contains(webRow, "20261125T095958Z-web preparing") {
		t.Errorf("web row %q should link its open incident and its state", webRow)
	}
}

func TestIndexIncidentsAndTimelines(t *testing.T) {
	f := loadFixture(t)
	_, doc, _ := get(t, newTestHandler(f.source(), Options{}), "/")
	ids := func(section string) []string {
		var out []string
		for _, a := range find(byID(doc, section), func(n *html.Node) bool { return attr(n, "data-incident") != "" }) {
			out = append(out, attr(a, "data-incident"))
		}
		return out
	}
	if got := ids("open-incidents"); strings.Join(got, ",") != "20261125T095958Z-web,20261125T080000Z-api" {
		t.Errorf("open incidents %v", got)
	}
	if got := ids("recent-incidents"); strings.Join(got, ",") != "20261125T094500Z-db,20261124T120000Z-web" {
		t.Errorf("recent incidents %v", got)
	}

	phases := func(id string) []*html.Node {
		inc := find(doc, hasAttr("data-incident", id))[0]
		return find(inc, func(n *html.Node) bool { return attr(n, "data-phase") != "" })
	}
	// The resolved db incident: every phase, in order, with bars placed on
	// one axis of 3.41 s (detect at 0 to finalize's end).
	rows := phases("20261125T094500Z-db")
	var got []string
	for _, r := range rows {
		got = append(got, attr(r, "data-phase")+"="+attr(r, "data-outcome"))
	}
	if strings.Join(got, " ") != "detect=ok fence=ok prepare=ok verify=ok switch=ok finalize=ok" {
		t.Fatalf("db timeline %v", got)
	}
	// verify: starts at 1.95 s of 3.41 s = 57.18 %, lasts 1.35 s = 39.59 %.
	left, width := barGeometry(t, rows[3])
	if math.Abs(left-57.18) > 0.01 || math.Abs(width-39.59) > 0.01 {
		t.Errorf("verify bar at %.2f%% width %.2f%%, want 57.18%% and 39.59%%", left, width)
	}
	// switch lasted 9 ms: drawn as a visible sliver, not zero.
	if _, w := barGeometry(t, rows[4]); w < 0.5 {
		t.Errorf("switch bar width %.2f%%: too thin to see", w)
	}
	if s := text(rows[3]); !strings.Contains(s, "1.35s (6 tries)") {
		t.Errorf("verify row %q should show duration and tries", s)
	}
	db := find(doc, hasAttr("data-incident", "20261125T094500Z-db"))[0]
	if s := text(db); !strings.Contains(s, "Detect to switch: 3.31s") || !strings.Contains(s, "127.0.0.11 → 127.0.0.2") {
		t.Errorf("db incident text %q lacks the recovery time or the DNS change", s)
	}

	// The running web incident: prepare runs, later phases are pending.
	got = got[:0]
	for _, r := range phases("20261125T095958Z-web") {
		got = append(got, attr(r, "data-phase")+"="+attr(r, "data-outcome"))
	}
	if strings.Join(got, " ") != "detect=ok fence=ok prepare=running verify=pending switch=pending finalize=pending" {
		t.Errorf("web timeline %v", got)
	}

	// The split-brain guard: the failed fence, in plain words, and an
	// acknowledge form.
	api := find(doc, hasAttr("data-incident", "20261125T080000Z-api"))[0]
	errs := find(api, func(n *html.Node) bool { return strings.Contains(attr(n, "class"), "tl-error") })
	if len(errs) != 1 || !strings.Contains(text(errs[0]), "could not make sure the primary is down") || !strings.Contains(text(errs[0]), "split-brain guard") {
		t.Errorf("fence error not in plain words: %v", errs)
	}
	forms := find(api, func(n *html.Node) bool { return n.Data == "form" })
	if len(forms) != 1 || attr(forms[0], "data-post") != "/api/v1/incidents/20261125T080000Z-api/acknowledge" {
		t.Errorf("needs-attention incident should offer acknowledge, got %d forms", len(forms))
	}
	// The running web incident has not begun its switch: it can be cancelled.
	web := find(doc, hasAttr("data-incident", "20261125T095958Z-web"))[0]
	forms = find(web, func(n *html.Node) bool { return n.Data == "form" })
	if len(forms) != 1 || attr(forms[0], "data-post") != "/api/v1/incidents/20261125T095958Z-web/cancel" {
		t.Errorf("running incident before its switch should offer cancel, got %d forms", len(forms))
	}
}

// TestTimelineShowsAbort: an undone recovery's abort phase follows the
// others on the timeline; an incident without one shows no abort row.
func TestTimelineShowsAbort(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	end := t0.Add(2 * time.Second)
	inc := &api.Incident{ID: "i", Service: "web", State: api.StateFailed, OpenedAt: t0, ClosedAt: &end, Phases: []api.Phase{
		{Name: api.PhasePrepare, StartedAt: t0, EndedAt: &end, Outcome: api.OutcomeOK},
		{Name: api.PhaseVerify, StartedAt: t0, EndedAt: &end, Outcome: api.OutcomeFailed, Error: "endpoint not ready"},
		{Name: api.PhaseAbort, StartedAt: t0, EndedAt: &end, Outcome: api.OutcomeOK},
	}}
	rows := buildTimeline(inc, end).Rows
	if last := rows[len(rows)-1]; len(rows) != len(api.PhaseNames)+1 || last.Name != api.PhaseAbort || last.Outcome != api.OutcomeOK {
		t.Fatalf("timeline rows %+v, want the phases then abort=ok", rows)
	}
	if v := newIncidentView(inc, end); v.CanCancel {
		t.Error("a failed incident offers cancel")
	}
	inc.Phases, inc.State = inc.Phases[:1], api.StateVerifying
	if rows := buildTimeline(inc, end).Rows; len(rows) != len(api.PhaseNames) {
		t.Fatalf("%d timeline rows without an abort, want %d", len(rows), len(api.PhaseNames))
	}
}

func barGeometry(t *testing.T, row *html.Node) (left, width float64) {
	t.Helper()
	bar := find(row, func(n *html.Node) bool { return attr(n, "class") == "tl-bar" })
	if len(bar) != 1 {
		t.Fatalf("row %s has no bar", attr(row, "data-phase"))
	}
	for _, decl := range strings.Split(attr(bar[0], "style"), ";") {
		k, v, _ := strings.Cut(decl, ":")
		f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "%"), 64)
		if err != nil {
			continue
		}
		switch strings.TrimSpace(k) {
		case "margin-left":
			left = f
		case "width":
			width = f
		}
	}
	return left, width
}

func TestTimelineGolden(t *testing.T) {
	f := loadFixture(t)
	_, doc, _ := get(t, newTestHandler(f.source(), Options{}), "/")
	for _, id := range []string{"20261125T094500Z-db", "20261125T080000Z-api"} {
		inc := find(doc, hasAttr("data-incident", id))[0]
		tl := find(inc, func(n *html.Node) bool { return attr(n, "class") == "timeline" })
		if len(tl) != 1 {
			t.Fatalf("%s: no timeline", id)
		}
		testfixture.Golden(t, filepath.Join("testdata", "timeline-"+id+".golden.html"), render(tl[0])+"\n", *update)
	}
}

func TestIndexStandbyAndCost(t *testing.T) {
	f := loadFixture(t)
	_, doc, _ := get(t, newTestHandler(f.source(), Options{}), "/")
	vm := find(doc, hasAttr("data-vm", "standby"))
	if len(vm) != 1 {
		t.Fatal("no standby VM card")
	}
	s := text(vm[0])
	for _, want := range []string{"3 of 4 containers running", "db Running 12.5% 3.50s 50.0 MiB 4", "mail Stopped — 0s 0 B 0"} {
		if !strings.Contains(s, want) {
			t.Errorf("standby card %q lacks %q", s, want)
		}
	}
	if s := text(find(doc, hasAttr("data-vm", "bigger"))[0]); !strings.Contains(s, "cannot reach LXD") {
		t.Errorf("unreachable VM should say so: %q", s)
	}
	costRows := map[string]string{}
	for _, r := range find(doc, func(n *html.Node) bool { return attr(n, "data-model") != "" }) {
		costRows[attr(r, "data-model")] = text(r)
	}
	for model, want := range map[string]string{
		"conventional-warm": "$20,253.12",
		"vcrcovery-warm":    "$5,063.28 $15,189.84 saved 0.91s (n=1)",
		"vcrcovery-cold":    "$1,337.82 $1,265.82 more 3.31s (n=1)",
		"conventional-cold": "$72.00 - not measured",
	} {
		if !strings.Contains(costRows[model], want) {
			t.Errorf("cost row %s = %q, want it to contain %q", model, costRows[model], want)
		}
	}
}

func TestDegradedSources(t *testing.T) {
	f := loadFixture(t)
	src := f.source()
	src.ServicesFunc = func(context.Context) ([]api.ServiceStatus, error) { return nil, errBoom }
	src.StandbyFunc = nil // unsupported: the section disappears
	src.CostConfig = nil
	code, doc, body := get(t, newTestHandler(src, Options{}), "/")
	if code != 200 {
		t.Fatalf("a failing source must not fail the page: %d", code)
	}
	if s := text(byID(doc, "services")); !strings.Contains(s, "Cannot read the services: GET /api/v1/services: connection refused") {
		t.Errorf("services section %q should explain the failure", s)
	}
	if byID(doc, "standby") != nil || byID(doc, "cost") != nil {
		t.Error("unsupported standby and absent cost config must leave their sections out")
	}
	if !strings.Contains(body, `data-incident="20261125T094500Z-db"`) {
		t.Error("incidents must still render when services fail")
	}
}

func TestReadOnlyAndAPIBase(t *testing.T) {
	f := loadFixture(t)
	_, doc, _ := get(t, newTestHandler(f.source(), Options{ReadOnly: true}), "/")
	if n := len(find(doc, func(n *html.Node) bool { return n.Data == "form" })); n != 0 {
		t.Errorf("read-only page has %d forms", n)
	}
	if code, _, _ := get(t, newTestHandler(f.source(), Options{ReadOnly: true}), "/confirm?action=failover&target=mail"); code != http.StatusForbidden {
		t.Errorf("read-only confirm = %d, want 403", code)
	}
	_, doc, _ = get(t, newTestHandler(f.source(), Options{APIBase: "http://127.0.0.1:9478/"}), "/")
	forms := find(doc, func(n *html.Node) bool { return n.Data == "form" })
	if len(forms) == 0 || !strings.HasPrefix(attr(forms[0], "data-post"), "http://127.0.0.1:9478/api/v1/") {
		t.Errorf("APIBase not applied to the forms")
	}
}

func TestIncidentPage(t *testing.T) {
	f := loadFixture(t)
	h := newTestHandler(f.source(), Options{})
	code, doc, _ := get(t, h, "/incidents/20261125T094500Z-db")
	if code != 200 {
		t.Fatalf("incident page = %d", code)
	}
	s := text(doc)
	for _, want := range []string{"restored 20261125T090000.000Z.tar.gz", "127.0.0.2:3306", "3 joined, 1 resolved", `alertname="VCRDomainShutoff"`} {
		if !strings.Contains(s, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
	if code, doc, _ := get(t, h, "/incidents/nope"); code != 404 || !strings.Contains(text(doc), "There is no incident nope") {
		t.Errorf("unknown incident = %d", code)
	}
	if code, _, _ := get(t, h, "/nothing-here"); code != 404 {
		t.Errorf("unknown path = %d, want 404", code)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/static/ui.js", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "window.confirm") {
		t.Errorf("static script: %d", rec.Code)
	}
}

// TestConfirmWithoutJS follows the no-JavaScript path to its end: the
// action button's GET lands on a confirmation page whose form POSTs to the
// receiver's API, which a fake receiver answers.
func TestConfirmWithoutJS(t *testing.T) {
	f := loadFixture(t)
	var posted []string
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/", func(w http.ResponseWriter, r *http.Request) {
		posted = append(posted, r.URL.Path)
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"id":"x","state":"open"}`)
	})
	mux.Handle("/", newTestHandler(f.source(), Options{}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tests := []struct {
		action, target, wantPost, wantQuestion string
		wantSteps                              []string // the plan's phases as listed; nil for ack
	}{
		{"failover", "mail", "/api/v1/services/mail/failover", "Fail mail over to its standby?", planLines(f, "mail", api.KindManualFailover)},
		{"drill", "mail", "/api/v1/services/mail/drill", "Run a failover drill of mail?", planLines(f, "mail", api.KindDrill)},
		{"failback", "db", "/api/v1/services/db/failback", "Fail db back to its primary?", planLines(f, "db", api.KindFailback)},
		{"ack", "20261125T080000Z-api", "/api/v1/incidents/20261125T080000Z-api/acknowledge", "Acknowledge incident 20261125T080000Z-api?", nil},
		{"cancel", "20261125T095958Z-web", "/api/v1/incidents/20261125T095958Z-web/cancel", "Cancel incident 20261125T095958Z-web?", nil},
	}
	for _, tt := range tests {
		code, doc, _ := get(t, mux, "/confirm?action="+tt.action+"&target="+url.QueryEscape(tt.target))
		if code != 200 {
			t.Fatalf("confirm %s = %d", tt.action, code)
		}
		if q := text(find(doc, func(n *html.Node) bool { return n.Data == "h2" })[0]); q != tt.wantQuestion {
			t.Errorf("question %q, want %q", q, tt.wantQuestion)
		}
		var steps []string
		for _, li := range find(doc, func(n *html.Node) bool { return n.Data == "li" }) {
			steps = append(steps, text(li))
		}
		if !slices.Equal(steps, tt.wantSteps) {
			t.Errorf("confirm %s lists %q, want the plan's %q", tt.action, steps, tt.wantSteps)
		}
		forms := find(doc, tagAttr("form", "method", "post"))
		if len(forms) != 1 || attr(forms[0], "action") != tt.wantPost {
			t.Fatalf("confirm %s: want one POST form to %s", tt.action, tt.wantPost)
		}
		resp, err := http.Post(srv.URL+attr(forms[0], "action"), "application/x-www-form-urlencoded", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Errorf("POST %s = %d", tt.wantPost, resp.StatusCode)
		}
	}
	if len(posted) != 5 {
		t.Errorf("API saw %v", posted)
	}
	if code, _, _ := get(t, mux, "/confirm?action=delete&target=mail"); code != 400 {
		t.Errorf("unknown action = %d, want 400", code)
	}
	// A run the receiver does not offer now is not confirmed.
	if code, _, body := get(t, mux, "/confirm?action=failover&target=web"); code != http.StatusConflict || !strings.Contains(body, "open incident") {
		t.Errorf("confirm failover of web, which has an open incident = %d %q, want 409", code, body)
	}
}

// TestFromClient serves the page from a receiver's API, as vcrctl ui does.
func TestFromClient(t *testing.T) {
	f := loadFixture(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/services", func(w http.ResponseWriter, _ *http.Request) { writeTestJSON(w, f.services) })
	mux.HandleFunc("GET /api/v1/incidents", func(w http.ResponseWriter, _ *http.Request) { writeTestJSON(w, f.incidents) })
	mux.HandleFunc("GET /api/v1/maintenance", func(w http.ResponseWriter, _ *http.Request) { writeTestJSON(w, f.maintenance) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	src := FromClient(api.New(srv.URL, ""))
	_, doc, _ := get(t, newTestHandler(src, Options{}), "/")
	if n := len(find(doc, func(n *html.Node) bool { return attr(n, "data-service") != "" })); n != 4 {
		t.Errorf("%d services from the API, want 4", n)
	}
	if n := len(find(doc, func(n *html.Node) bool { return attr(n, "data-incident") != "" })); n != 4 {
		t.Errorf("%d incidents from the API, want 4", n)
	}
	if n := len(find(doc, func(n *html.Node) bool { return attr(n, "data-window") != "" })); n != 2 {
		t.Errorf("%d maintenance windows from the API, want 2", n)
	}
}

func TestIncidentsShownNewestFirst(t *testing.T) {
	f := loadFixture(t)
	rev := slices.Clone(f.incidents)
	slices.Reverse(rev)
	keep := slices.Clone(rev)
	src := f.source()
	src.IncidentsFunc = func(context.Context) ([]api.Incident, error) { return rev, nil }
	_, doc, _ := get(t, newTestHandler(src, Options{RecentIncidents: 1}), "/")
	var got []string
	for _, n := range find(doc, func(n *html.Node) bool { return attr(n, "data-incident") != "" }) {
		got = append(got, attr(n, "data-incident"))
	}
	// Open ones first (newest first), then the one most recent closed one.
	want := "20261125T095958Z-web,20261125T080000Z-api,20261125T094500Z-db"
	if strings.Join(got, ",") != want {
		t.Errorf("incidents shown %v, want %s", got, want)
	}
	if !slices.EqualFunc(rev, keep, func(a, b api.Incident) bool { return a.ID == b.ID }) {
		t.Error("the page reordered the source's slice")
	}
	if !strings.Contains(text(doc), "1 older incidents not shown") {
		t.Error("the page should say how many closed incidents it left out")
	}
}

func TestIncidentErrorShownOnce(t *testing.T) {
	end := fixedNow.Add(-time.Minute)
	mk := func(id, incErr, phaseErr string) api.Incident {
		return api.Incident{ID: id, Service: "web", State: api.StateFailed, Kind: api.KindFailover, Reason: "VCRDomainCrashed",
			OpenedAt: end.Add(-time.Second), Error: incErr,
			Phases: []api.Phase{{Name: api.PhaseDetect, StartedAt: end.Add(-time.Second), EndedAt: &end, Outcome: api.OutcomeFailed, Error: phaseErr}}}
	}
	incs := []api.Incident{
		mk("same", "detect failed: no such service", "no such service"),
		mk("other", "flapping: the last recovery ended 2m ago; fail over by hand", ""),
	}
	src := Funcs{IncidentsFunc: func(context.Context) ([]api.Incident, error) { return incs, nil }}
	_, doc, _ := get(t, newTestHandler(src, Options{}), "/")
	notices := func(id string) int {
		inc := find(doc, hasAttr("data-incident", id))[0]
		return len(find(inc, func(n *html.Node) bool { return attr(n, "class") == "notice bad" }))
	}
	if n := notices("same"); n != 0 {
		t.Errorf("an error the timeline already shows appears %d more times", n)
	}
	if n := notices("other"); n != 1 {
		t.Errorf("an error no phase shows must appear once above the timeline, got %d", n)
	}
}

// planLines is what the fixture's receiver plans for a run of kind on a
// service, as the pages list it.
func planLines(f *fixture, service string, kind api.Kind) []string {
	for _, s := range f.services {
		for _, p := range s.Actions {
			if s.Name == service && p.Kind == kind {
				return p.Lines()
			}
		}
	}
	return nil
}

// TestMaintenanceSection: the page shows each window, what it covers until
// when, and the alerts it declined, newest first; a covered service says so
// in the services table.
func TestMaintenanceSection(t *testing.T) {
	f := loadFixture(t)
	_, doc, _ := get(t, newTestHandler(f.source(), Options{}), "/")
	sec := byID(doc, "maintenance")
	if sec == nil {
		t.Fatal("no maintenance section")
	}
	windows := find(sec, func(n *html.Node) bool { return attr(n, "data-window") != "" })
	if len(windows) != 2 || attr(windows[0], "data-active") != "true" || attr(windows[1], "data-active") != "false" {
		t.Fatalf("windows %d, want the active one then the stopped one", len(windows))
	}
	active := text(windows[0])
	for _, want := range []string{"service mail", "until 2026-11-25 11:30 UTC", "ends in 1h30m", "by ops@admin1", "kernel update. No automatic recovery for mail while it lasts.",
		"17m ago mail VCRDomainShutoff prometheus:9090 18m ago mail VCRDomainShutoff fast-path"} {
		if !strings.Contains(active, want) {
			t.Errorf("active window %q lacks %q", active, want)
		}
	}
	if stopped := text(windows[1]); !strings.Contains(stopped, "host hv2") || !strings.Contains(stopped, "stopped 3h ago") || !strings.Contains(stopped, "No alert declined.") {
		t.Errorf("stopped window %q", stopped)
	}
	rows := find(doc, func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-service") != "" })
	if mail := text(rows[2]); !strings.Contains(mail, "maintenance until 11:30 UTC") {
		t.Errorf("mail's row %q does not say it is in maintenance", mail)
	}
	if db := text(rows[1]); strings.Contains(db, "maintenance") {
		t.Errorf("db's row %q: its window was stopped", db)
	}
}
