package fastpath

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
)

var testEvent = failure.DomainEvent{Host: "hv1", Cloud: "tokyo", Domain: "web", UUID: "11111111-2222-3333-4444-555555555555",
	Event: "stopped", Detail: "destroyed", State: 5, Source: "libvirt", At: time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)}

// The payload is what Alertmanager's POST /api/v2/alerts takes, with the
// rule path's exact label set.
func TestBuildAlertPayload(t *testing.T) {
	a := BuildAlert(testEvent, failure.AlertShutoff, "http://hv1:9477/")
	a.EndsAt = testEvent.At.Add(4 * time.Minute)
	b, err := json.MarshalIndent([]PostableAlert{a}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want := `[
  {
    "labels": {
      "alertname": "VCRDomainShutoff",
      "cloud": "tokyo",
      "domain": "web",
      "host": "hv1",
      "severity": "critical",
      "uuid": "11111111-2222-3333-4444-555555555555"
    },
    "annotations": {
      "description": "libvirt reported stopped/destroyed for domain web (uuid 11111111-2222-3333-4444-555555555555) at 2026-01-02T03:04:05.6Z; pushed by vcr-exporter's fast path.",
      "event": "stopped/destroyed",
      "origin": "libvirt",
      "source": "fastpath",
      "state": "shutoff",
      "summary": "Domain web on hv1 (tokyo) shut off"
    },
    "startsAt": "2026-01-02T03:04:05.6Z",
    "endsAt": "2026-01-02T03:08:05.6Z",
    "generatorURL": "http://hv1:9477/"
  }
]`
	if string(b) != want {
		t.Fatalf("payload:\n%s\nwant:\n%s", b, want)
	}
	if c := BuildAlert(testEvent, failure.AlertCrashed, ""); !strings.Contains(c.Annotations["summary"], "crashed") {
		t.Errorf("crashed summary = %q", c.Annotations["summary"])
	}
}

func startFastPath(t *testing.T, opts Options) *Pusher {
	t.Helper()
	f, err := New(opts, exportertest.DiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

func pushes(f *Pusher, am, result string) float64 {
	return testutil.ToFloat64(f.pushes.WithLabelValues(am, result))
}

func TestFastPathRetriesThenSucceeds(t *testing.T) {
	am := exportertest.NewAMStub(t, 503, 500)
	f := startFastPath(t, Options{URLs: []string{am.Srv.URL}, BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond})
	f.Fire(testEvent, failure.AlertShutoff)
	am.Wait(t, 3)
	host := strings.TrimPrefix(am.Srv.URL, "http://")
	exportertest.WaitFor(t, func() bool { return pushes(f, host, "success") == 1 })
	if r := pushes(f, host, "retry"); r != 2 {
		t.Errorf("retries = %v, want 2", r)
	}
	for _, req := range am.All() {
		if len(req) != 1 || req[0].Labels["alertname"] != failure.AlertShutoff || req[0].Labels["domain"] != "web" {
			t.Errorf("request = %+v", req)
		}
	}
	if n := testutil.CollectAndCount(f.e2e); n != 1 {
		t.Errorf("event-to-push histogram series = %d", n)
	}
}

// A 4xx will not get better by retrying; Alertmanager's own notifier
// draws the same line.
func TestFastPathGivesUpOnClientError(t *testing.T) {
	am := exportertest.NewAMStub(t, 400)
	f := startFastPath(t, Options{URLs: []string{am.Srv.URL}, BackoffMin: time.Millisecond})
	f.Fire(testEvent, failure.AlertShutoff)
	am.Wait(t, 1)
	host := strings.TrimPrefix(am.Srv.URL, "http://")
	exportertest.WaitFor(t, func() bool { return pushes(f, host, "failure") == 1 })
	time.Sleep(20 * time.Millisecond)
	if n := len(am.All()); n != 1 {
		t.Fatalf("requests = %d, want 1", n)
	}
}

// A dead Alertmanager gets exactly Attempts tries with growing waits.
func TestFastPathBoundedRetriesWhenDown(t *testing.T) {
	am := exportertest.NewAMStub(t)
	url := am.Srv.URL
	am.Srv.Close()
	f := startFastPath(t, Options{URLs: []string{url}, Attempts: 4, BackoffMin: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond})
	start := time.Now()
	f.Fire(testEvent, failure.AlertShutoff)
	host := strings.TrimPrefix(url, "http://")
	exportertest.WaitFor(t, func() bool { return pushes(f, host, "failure") == 1 })
	if r := pushes(f, host, "retry"); r != 3 {
		t.Errorf("retries = %v, want 3", r)
	}
	// Waits 5 + 10 + 20 ms: the backoff grows and is capped.
	if d := time.Since(start); d < 35*time.Millisecond {
		t.Errorf("gave up after %v, want >= 35ms of backoff", d)
	}
}

// Fire and Resolve never block, even with the worker stuck: a full queue
// drops and counts.
func TestFastPathQueueBoundedAndNonBlocking(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	f := startFastPath(t, Options{URLs: []string{srv.URL}, QueueSize: 2, Timeout: 10 * time.Second})
	start := time.Now()
	for i := 0; i < 10; i++ {
		ev := testEvent
		ev.UUID = strings.Repeat(string(rune('a'+i)), 8) + ev.UUID[8:]
		f.Fire(ev, failure.AlertShutoff)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("10 Fire calls took %v with Alertmanager stuck", d)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	// One batch in flight (1..2 alerts taken), 2 queued, the rest dropped.
	d := testutil.ToFloat64(f.dropped.WithLabelValues(host))
	if d < 6 || d > 8 {
		t.Fatalf("dropped = %v, want 6..8", d)
	}
}

func TestFastPathResolve(t *testing.T) {
	am := exportertest.NewAMStub(t)
	f := startFastPath(t, Options{URLs: []string{am.Srv.URL}})
	f.Fire(testEvent, failure.AlertShutoff)
	am.Wait(t, 1)
	// While it fires, the alert is a series of its own, labelled like the alert.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(f)
	want := fmt.Sprintf(`# HELP vcr_fastpath_alert_firing Always 1; a fast-path alert being pushed and kept alive, labelled like the alert (alertname, severity, domain, uuid, host, cloud).
# TYPE vcr_fastpath_alert_firing gauge
vcr_fastpath_alert_firing{alertname="VCRDomainShutoff",cloud=%q,domain=%q,host=%q,severity="critical",uuid=%q} 1
`, testEvent.Cloud, testEvent.Domain, testEvent.Host, testEvent.UUID)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "vcr_fastpath_alert_firing"); err != nil {
		t.Fatal(err)
	}
	up := testEvent
	up.Event, up.Detail, up.State, up.At = "started", "booted", 1, testEvent.At.Add(30*time.Second)
	f.Resolve(up)
	am.Wait(t, 1)
	reqs := am.All()
	fired, resolved := reqs[0][0], reqs[1][0]
	if !fired.EndsAt.After(testEvent.At.Add(time.Minute)) {
		t.Errorf("firing endsAt %s should lie in the future", fired.EndsAt)
	}
	if !resolved.EndsAt.Equal(up.At) || !resolved.StartsAt.Equal(testEvent.At) {
		t.Errorf("resolved startsAt %s endsAt %s, want %s and %s", resolved.StartsAt, resolved.EndsAt, testEvent.At, up.At)
	}
	for k, v := range fired.Labels {
		if resolved.Labels[k] != v {
			t.Errorf("resolve changed label %s: %q -> %q", k, v, resolved.Labels[k])
		}
	}
	// Nothing firing: resolving again sends nothing.
	f.Resolve(up)
	time.Sleep(50 * time.Millisecond)
	if n := len(am.All()); n != 2 {
		t.Fatalf("requests = %d, want 2", n)
	}
	if n, err := testutil.GatherAndCount(reg, "vcr_fastpath_alert_firing"); err != nil || n != 0 {
		t.Fatalf("resolved alert still exported (%d series, %v)", n, err)
	}
}

// Every Alertmanager gets every alert, and a dead one does not slow the
// live one down.
func TestFastPathFansOut(t *testing.T) {
	live := exportertest.NewAMStub(t)
	dead := exportertest.NewAMStub(t)
	deadURL := dead.Srv.URL
	dead.Srv.Close()
	f := startFastPath(t, Options{URLs: []string{deadURL, live.Srv.URL}, BackoffMin: 50 * time.Millisecond})
	start := time.Now()
	f.Fire(testEvent, failure.AlertCrashed)
	live.Wait(t, 1)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("live Alertmanager got the alert after %v", d)
	}
}

func TestFastPathResends(t *testing.T) {
	am := exportertest.NewAMStub(t)
	f := startFastPath(t, Options{URLs: []string{am.Srv.URL}, ResendInterval: 30 * time.Millisecond})
	f.Fire(testEvent, failure.AlertShutoff)
	am.Wait(t, 3) // first push plus two resends
	reqs := am.All()
	if !reqs[2][0].StartsAt.Equal(testEvent.At) {
		t.Errorf("resend changed startsAt to %s", reqs[2][0].StartsAt)
	}
}

func TestNewFastPathRejectsBadURL(t *testing.T) {
	for _, u := range []string{"localhost:9093", "ftp://x", "http://"} {
		if _, err := New(Options{URLs: []string{u}}, exportertest.DiscardLogger()); err == nil {
			t.Errorf("accepted %q", u)
		}
	}
}

// The standby VM's alerts carry role="standby", as its series do on the
// rule path after prometheus.yml's relabelling; the regex is anchored as
// Prometheus anchors it.
func TestFastPathStandbyRole(t *testing.T) {
	re, err := StandbyDomains(DefaultStandbyDomainRegex)
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(Options{StandbyDomains: re}, exportertest.DiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	for domain, want := range map[string]string{"vcr-standby": "standby", "vcr-standby-2": "standby", "web": "", "old-vcr-standby": "", "vcr-standby-": ""} {
		ev := testEvent
		ev.Domain = domain
		if got := f.Alert(ev, failure.AlertShutoff).Labels["role"]; got != want {
			t.Errorf("%s: role %q, want %q", domain, got, want)
		}
	}
	if re, _ := StandbyDomains(""); re != nil {
		t.Error("empty regex gives a role")
	}
	if _, err := StandbyDomains("("); err == nil {
		t.Error("bad regex accepted")
	}
}

// A resolve that Alertmanager did not take is sent again at every resend
// until it is accepted; it is never given up on, and it does not bring the
// alert back to firing.
func TestFastPathResolveRetriedUntilDelivered(t *testing.T) {
	am := exportertest.NewAMStub(t, 200, 503, 503, 503)
	f := startFastPath(t, Options{URLs: []string{am.Srv.URL}, Attempts: 1, ResendInterval: 30 * time.Millisecond})
	f.Fire(testEvent, failure.AlertShutoff)
	am.Wait(t, 1)
	up := testEvent
	up.Event, up.Detail, up.State, up.At = "started", "booted", 1, testEvent.At.Add(30*time.Second)
	f.Resolve(up)
	am.Wait(t, 4) // three refused resolves, then the accepted one
	exportertest.WaitFor(t, func() bool { return testutil.ToFloat64(f.pendingG) == 0 })
	reqs := am.All()
	for i, req := range reqs[1:5] {
		if len(req) != 1 || !req[0].EndsAt.Equal(up.At) {
			t.Fatalf("request %d = %+v, want the resolve again", i+2, req)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(am.All()); n != 5 {
		t.Fatalf("%d requests after the resolve was accepted, want 5: nothing more to send", n)
	}
}

// A domain that fails again before its resolve got through supersedes it:
// the firing alert goes out, the stale resolve never again.
func TestFastPathFireSupersedesPendingResolve(t *testing.T) {
	am := exportertest.NewAMStub(t, 200, 503)
	f := startFastPath(t, Options{URLs: []string{am.Srv.URL}, Attempts: 1, ResendInterval: 30 * time.Millisecond})
	f.Fire(testEvent, failure.AlertShutoff)
	am.Wait(t, 1)
	up := testEvent
	up.Event, up.Detail, up.At = "started", "booted", testEvent.At.Add(time.Second)
	f.Resolve(up)
	am.Wait(t, 1)
	again := testEvent
	again.At = testEvent.At.Add(2 * time.Second)
	f.Fire(again, failure.AlertShutoff)
	am.Wait(t, 3) // the new fire and two resends
	for _, req := range am.All()[2:] {
		for _, a := range req {
			if a.EndsAt.Equal(up.At) {
				t.Fatalf("superseded resolve sent again: %+v", a)
			}
		}
	}
	if v := testutil.ToFloat64(f.pendingG); v != 0 {
		t.Errorf("pending resolves = %v, want 0", v)
	}
}
