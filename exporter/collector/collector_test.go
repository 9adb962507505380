package collector

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
	"github.com/vcrcovery/vcrcovery/exporter/lifecycle"
)

// One failing collector costs its own success metric, not the scrape.
func TestCollectorSetIsolatesFailures(t *testing.T) {
	// A supervisor that never connected: the libvirt collector fails.
	states := lifecycle.NewStateCache(time.Minute)
	set, err := New(Config{Host: "hv1", ScrapeTimeout: time.Second, Logger: exportertest.DiscardLogger(),
		Libvirt: lifecycle.NewSupervisor(nil, nil, exportertest.DiscardLogger()), States: states,
		Events: lifecycle.NewTracker("hv1", "", states, nil, exportertest.DiscardLogger())})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(set)
	want := `# HELP vcr_scrape_collector_success vcr-exporter: whether a collector succeeded.
# TYPE vcr_scrape_collector_success gauge
vcr_scrape_collector_success{collector="events"} 1
vcr_scrape_collector_success{collector="libvirt"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "vcr_scrape_collector_success"); err != nil {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(reg, "vcr_domain_lifecycle_events_total")
	if err != nil || n != 9 {
		t.Fatalf("lifecycle counters = %d (%v), want 9 (one per event type, from 0)", n, err)
	}
}

// Every collector registers itself by the name its scrape metrics carry.
func TestEveryCollectorRegistered(t *testing.T) {
	var names []string
	for name := range factories {
		names = append(names, name)
	}
	slices.Sort(names)
	if want := []string{"events", "libvirt", "lxd", "snmp"}; !slices.Equal(names, want) {
		t.Fatalf("registered collectors %v, want %v", names, want)
	}
}

// A part the Config leaves nil turns its collector off; a bad option fails New.
func TestNewTurnsOnWhatConfigHolds(t *testing.T) {
	set, err := New(Config{ScrapeTimeout: time.Second, Logger: exportertest.DiscardLogger()})
	if err != nil || len(set.collectors) != 0 {
		t.Fatalf("empty Config: %d collectors, err %v; want none", len(set.collectors), err)
	}
	if _, err := New(Config{ScrapeTimeout: time.Second, Logger: exportertest.DiscardLogger(), LXD: &LXDOptions{}}); err == nil {
		t.Fatal("LXD options without a socket or URL accepted")
	}
}
