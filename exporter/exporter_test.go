package exporter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/exporter/collector"
	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/exporter/fastpath"
	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
	"github.com/vcrcovery/vcrcovery/exporter/lifecycle"
	"github.com/vcrcovery/vcrcovery/exporter/snmptrap"
	"github.com/vcrcovery/vcrcovery/lxd"
)

// runUntilCleanup runs exp until the test ends.
func runUntilCleanup(t *testing.T, exp *Exporter) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = exp.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

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
	runUntilCleanup(t, exp)
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
	// The standard names every exporter uses, not vcr_process_*.
	for _, name := range []string{"process_resident_memory_bytes", "go_goroutines", "vcr_exporter_build_info"} {
		if _, ok := s.Get(name, nil); !ok {
			t.Errorf("no %s", name)
		}
	}
	if _, ok := s.Get("vcr_process_resident_memory_bytes", nil); ok {
		t.Error("process metrics still carry the vcr_ prefix")
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
	if _, err := New(Options{Dial: dial, SNMP: &snmptrap.Options{Address: "256.0.0.1:99999", Community: "public"}}); err == nil {
		t.Error("New accepted a bad SNMP address")
	}
	if _, err := New(Options{Dial: dial, SNMP: &snmptrap.Options{Address: "127.0.0.1:0"}}); err == nil || !strings.Contains(err.Error(), "--snmp.community") {
		t.Errorf("New accepted a trap receiver that takes anyone's traps: %v", err)
	}
}

// A failing daemon costs only the LXD collector: vcr_lxd_up 0, success 0,
// and the libvirt collector's metrics are still served.
func TestLXDCollectorFailureKeepsOtherCollectors(t *testing.T) {
	f := exportertest.NewFakeLXD(t)
	fake := exportertest.NewFakeClient(exportertest.SampleRecords()...)
	exp, err := New(Options{
		Dial: func(context.Context) (lifecycle.Client, error) { return fake, nil },
		Host: "hv9", Cloud: "tokyo", Logger: exportertest.DiscardLogger(),
		LXD: &collector.LXDOptions{Config: lxd.Config{Socket: f.Socket}},
	})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, exp)
	<-exp.sup.Connected()
	h, err := exp.Handler("/metrics", "test")
	if err != nil {
		t.Fatal(err)
	}
	scrape := func() exportertest.Samples {
		code, body := get(t, h, "/metrics")
		if code != 200 {
			t.Fatalf("/metrics = %d: %s", code, body)
		}
		return exportertest.ParseMetrics(t, strings.NewReader(body))
	}
	s := scrape()
	if v, _ := s.Get("vcr_scrape_collector_success", map[string]string{"collector": "lxd"}); v != 1 {
		t.Errorf("lxd collector success = %v with a healthy daemon", v)
	}
	if v, _ := s.Get("vcr_lxd_instance_cpu_seconds_total", map[string]string{"name": "web", "role": "standby", "host": "hv9", "cloud": "tokyo"}); v != 12.5 {
		t.Errorf("web cpu = %v, want 12.5", v)
	}

	f.Set(func(f *exportertest.FakeLXD) { f.Down = true })
	s = scrape()
	if v, ok := s.Get("vcr_lxd_up", map[string]string{"role": "standby"}); !ok || v != 0 {
		t.Errorf("vcr_lxd_up = %v %v while the daemon fails, want 0", v, ok)
	}
	if v, _ := s.Get("vcr_scrape_collector_success", map[string]string{"collector": "lxd"}); v != 0 {
		t.Errorf("lxd collector success = %v while the daemon fails, want 0", v)
	}
	if _, ok := s.Get("vcr_lxd_instance_cpu_seconds_total", nil); ok {
		t.Error("instance series exported from a failed scrape")
	}
	if v, _ := s.Get("vcr_libvirt_up", nil); v != 1 {
		t.Errorf("vcr_libvirt_up = %v: an LXD failure emptied the libvirt collector", v)
	}
	if v, _ := s.Get("vcr_scrape_collector_success", map[string]string{"collector": "libvirt"}); v != 1 {
		t.Errorf("libvirt collector success = %v", v)
	}

	f.Set(func(f *exportertest.FakeLXD) { f.Down = false })
	if v, _ := scrape().Get("vcr_lxd_up", nil); v != 1 {
		t.Errorf("vcr_lxd_up = %v after the daemon recovered, want 1", v)
	}
}
