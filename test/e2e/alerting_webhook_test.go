package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
)

// alertingWebhook stands in for vcr-receiver's POST /api/v1/alerts: it checks the bearer token
// as the receiver does and records every alert of every notification with its arrival time.
type alertingWebhook struct {
	srv   *httptest.Server
	token string

	mu       sync.Mutex
	received []alertingArrival
	denied   int
	notify   chan struct{}
}

// alertingArrival is one alert of one webhook notification.
type alertingArrival struct {
	at    time.Time
	alert template.Alert
}

// newAlertingToken returns a random bearer token and a file holding it, the
// credentials_file that Alertmanager and vcr-receiver read.
func newAlertingToken(t testing.TB) (token, file string) {
	t.Helper()
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	token = hex.EncodeToString(tok[:])
	file = filepath.Join(t.TempDir(), "receiver.token")
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return token, file
}

func newAlertingWebhook(t testing.TB, token string) *alertingWebhook {
	w := &alertingWebhook{token: token, notify: make(chan struct{}, 1)}
	w.srv = httptest.NewServer(http.HandlerFunc(w.serve))
	t.Cleanup(w.srv.Close)
	return w
}

// URL is the webhook address to configure in Alertmanager.
func (w *alertingWebhook) URL() string { return w.srv.URL + "/api/v1/alerts" }

func (w *alertingWebhook) serve(rw http.ResponseWriter, r *http.Request) {
	now := time.Now()
	if r.Method != http.MethodPost || r.URL.Path != "/api/v1/alerts" {
		http.Error(rw, "not found", http.StatusNotFound)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+w.token {
		w.mu.Lock()
		w.denied++
		w.mu.Unlock()
		http.Error(rw, "bad token", http.StatusUnauthorized)
		return
	}
	var data template.Data
	if err := json.NewDecoder(r.Body).Decode(&data); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	for _, a := range data.Alerts {
		w.received = append(w.received, alertingArrival{at: now, alert: a})
	}
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
	rw.WriteHeader(http.StatusOK)
}

// first returns the earliest firing alert matching all labels in match (and pred, if set).
func (w *alertingWebhook) first(match map[string]string, pred func(template.Alert) bool) (alertingArrival, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.received {
		if a.alert.Status == "firing" && labelsMatch(a.alert.Labels, match) && (pred == nil || pred(a.alert)) {
			return a, true
		}
	}
	return alertingArrival{}, false
}

// all returns every firing alert matching match.
func (w *alertingWebhook) all(match map[string]string) []alertingArrival {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []alertingArrival
	for _, a := range w.received {
		if a.alert.Status == "firing" && labelsMatch(a.alert.Labels, match) {
			out = append(out, a)
		}
	}
	return out
}

// wait polls until first finds an alert or timeout passes.
func (w *alertingWebhook) wait(t testing.TB, timeout time.Duration, match map[string]string, pred func(template.Alert) bool) alertingArrival {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if a, ok := w.first(match, pred); ok {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook: no firing alert %v within %s; received:\n%s", match, timeout, w.dump())
		}
		select {
		case <-w.notify:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (w *alertingWebhook) dump() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for _, a := range w.received {
		b.WriteString(a.at.Format("15:04:05.000") + " " + a.alert.Status + " " + labelString(a.alert.Labels) + "\n")
	}
	if w.denied > 0 {
		b.WriteString("(plus requests refused for a bad token)\n")
	}
	return b.String()
}

func labelsMatch(have template.KV, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func labelString(kv template.KV) string {
	var parts []string
	for _, p := range kv.SortedPairs() {
		parts = append(parts, p.Name+"="+p.Value)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// fromRulePath tells a Prometheus alert from a fast-path one: Prometheus links each alert to the
// expression that produced it, the exporter marks its own with annotation source=fastpath.
func fromRulePath(a template.Alert) bool {
	return strings.Contains(a.GeneratorURL, "/graph?g0.expr=") && a.Annotations["source"] != "fastpath"
}

func fromFastPath(a template.Alert) bool { return a.Annotations["source"] == "fastpath" }
