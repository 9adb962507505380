package exporter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/exporter/fastpath"
	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
	"github.com/vcrcovery/vcrcovery/exporter/lifecycle"
	"github.com/vcrcovery/vcrcovery/exporter/snmptrap"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

// The whole exporter over a fake libvirt: endpoints, an event turned into
// a pushed alert, and the state it leaves visible to the next scrape.
func TestExporterEndToEndWithFake(t *testing.T) {
	fake := exportertest.NewFakeClient(exportertest.SampleRecords()...)
	am := exportertest.NewAMStub(t)
	exp, err := New(Options{
		Dial:     func(context.Context) (lifecycle.Client, error) { return fake, nil },
		Host:     "hv1",
		Cloud:    "tokyo",
		FastPath: &fastpath.Options{URLs: []string{am.Srv.URL}},
		Logger:   exportertest.DiscardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := exp.Handler("/metrics", "test")
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, h, "/-/ready"); code != http.StatusServiceUnavailable {
		t.Errorf("/-/ready before Run = %d, want 503", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = exp.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	exportertest.WaitFor(t, func() bool { c, _ := get(t, h, "/-/ready"); return c == 200 })

	if code, body := get(t, h, "/-/healthy"); code != 200 || !strings.Contains(body, "Healthy") {
		t.Errorf("/-/healthy = %d %q", code, body)
	}
	if code, body := get(t, h, "/"); code != 200 || !strings.Contains(body, "vcr-exporter") || !strings.Contains(body, "/metrics") {
		t.Errorf("landing page = %d %q", code, body)
	}

	// web is destroyed: the alert goes out and the event is counted.
	fake.Events <- exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedDestroyed))
	am.Wait(t, 1)
	if got := am.All()[0][0].Labels; got["alertname"] != failure.AlertShutoff || got["host"] != "hv1" || got["cloud"] != "tokyo" {
		t.Errorf("pushed labels %v", got)
	}
	code, body := get(t, h, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	s := exportertest.ParseMetrics(t, strings.NewReader(body))
	if v, _ := s.Get("vcr_libvirt_up", nil); v != 1 {
		t.Errorf("vcr_libvirt_up = %v", v)
	}
	if v, _ := s.Get("vcr_domain_lifecycle_events_total", map[string]string{"event": "stopped"}); v != 1 {
		t.Errorf("stopped events = %v", v)
	}
	if v, _ := s.Get("vcr_fastpath_firing_alerts", nil); v != 1 {
		t.Errorf("firing alerts = %v", v)
	}
	for _, c := range []string{"libvirt", "events"} {
		if v, ok := s.Get("vcr_scrape_collector_success", map[string]string{"collector": c}); !ok || v != 1 {
			t.Errorf("collector %s success = %v", c, v)
		}
	}
	if _, ok := s.Get("vcr_process_resident_memory_bytes", nil); !ok {
		t.Error("no process metrics")
	}
	// This scrape's stats were taken after the event, so they win (the fake
	// still says running); TestLibvirtCollectorPrefersNewerEvent covers the
	// opposite order.
	if v, _ := s.Get("vcr_domain_state", map[string]string{"domain": "web"}); v != 1 {
		t.Errorf("web state = %v, want 1 (stats newer than the event)", v)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without a dialer succeeded")
	}
	dial := func(context.Context) (lifecycle.Client, error) { return nil, exportertest.ErrFakeDial }
	if _, err := New(Options{Dial: dial, FastPath: &fastpath.Options{URLs: []string{"am:9093"}}}); err == nil {
		t.Error("New accepted an Alertmanager URL without scheme")
	}
	if _, err := New(Options{Dial: dial, SNMP: &snmptrap.Options{Address: "256.0.0.1:99999"}}); err == nil {
		t.Error("New accepted a bad SNMP address")
	}
}
