package exporter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
	"github.com/vcrcovery/vcrcovery/exporter/lifecycle"
)

func TestScrapeBudget(t *testing.T) {
	for _, c := range []struct {
		header string
		limit  time.Duration
		want   time.Duration
	}{
		{"", 10 * time.Second, 10 * time.Second},
		{"garbage", 10 * time.Second, 10 * time.Second},
		{"-1", 10 * time.Second, 10 * time.Second},
		{"10", 10 * time.Second, 9500 * time.Millisecond}, // Prometheus' default scrape_timeout
		{"0.9", 10 * time.Second, 810 * time.Millisecond},
		{"30", 10 * time.Second, 10 * time.Second},
	} {
		h := http.Header{}
		if c.header != "" {
			h.Set("X-Prometheus-Scrape-Timeout-Seconds", c.header)
		}
		if got := scrapeBudget(h, c.limit); got != c.want {
			t.Errorf("scrapeBudget(%q, %v) = %v, want %v", c.header, c.limit, got, c.want)
		}
	}
}

// A hung libvirtd is not a dead host: with --scrape.timeout as long as
// Prometheus' own, the scrape still answers before Prometheus gives up
// (it reads X-Prometheus-Scrape-Timeout-Seconds), the next ones answer at
// once, and the page says what is wrong: vcr_libvirt_up 0, the libvirt
// collector failed, a call in flight. Events and the fast path carry on.
func TestScrapeWhileLibvirtHangs(t *testing.T) {
	fake := exportertest.NewFakeClient(exportertest.SampleRecords()...)
	exp, err := New(Options{
		Dial: func(context.Context) (lifecycle.Client, error) { return fake, nil },
		Host: "hv1", Cloud: "tokyo", ScrapeTimeout: 10 * time.Second, Logger: exportertest.DiscardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, exp)
	<-exp.sup.Connected()
	exportertest.WaitFor(t, func() bool { return fake.StatsCalls() >= 1 }) // reconciliation
	release := fake.Hang()
	defer release()
	h, err := exp.Handler("/metrics", "test")
	if err != nil {
		t.Fatal(err)
	}
	scrape := func() (time.Duration, exportertest.Samples) {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "1")
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		d := time.Since(start)
		if rec.Code != http.StatusOK {
			t.Fatalf("/metrics = %d: %s", rec.Code, rec.Body)
		}
		return d, exportertest.ParseMetrics(t, strings.NewReader(rec.Body.String()))
	}
	for i, limit := range []time.Duration{time.Second, 200 * time.Millisecond, 200 * time.Millisecond} {
		d, s := scrape()
		if d >= limit {
			t.Fatalf("scrape %d took %v against a hung libvirtd, want < %v (Prometheus gives up after 1s)", i+1, d, limit)
		}
		if v, ok := s.Get("vcr_libvirt_up", nil); !ok || v != 0 {
			t.Errorf("scrape %d: vcr_libvirt_up = %v %v, want 0", i+1, v, ok)
		}
		if v, _ := s.Get("vcr_scrape_collector_success", map[string]string{"collector": "libvirt"}); v != 0 {
			t.Errorf("scrape %d: libvirt collector success = %v, want 0", i+1, v)
		}
		if v, _ := s.Get("vcr_scrape_collector_success", map[string]string{"collector": "events"}); v != 1 {
			t.Errorf("scrape %d: events collector success = %v, want 1", i+1, v)
		}
		if v, _ := s.Get("vcr_libvirt_call_in_flight_seconds", nil); v < 0.5 {
			t.Errorf("scrape %d: call in flight for %vs, want the first scrape's wait at least", i+1, v)
		}
		if v, _ := s.Get("vcr_libvirt_events_subscribed", nil); v != 1 {
			t.Errorf("scrape %d: events subscribed = %v, want 1", i+1, v)
		}
	}
	if n := fake.StatsCalls(); n != 2 {
		t.Errorf("%d stats calls, want 2 (reconciliation and the one hung scrape)", n)
	}
}
