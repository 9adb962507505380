package receiver

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

func TestMetricsExposed(t *testing.T) {
	h := newHarness(t, testConfig)
	h.waitState(openIncident(t, h, shutoffWeb), api.StateResolved)
	h.r.Wait()
	h.r.ReloadResult(false)
	mfs, err := h.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	for _, want := range []string{
		"vcr_recoveries_total", "vcr_recovery_phase_duration_seconds", "vcr_incidents_open",
		"vcr_webhook_requests_total", "vcr_journal_write_duration_seconds", "vcr_alerts_received_total",
		"vcr_config_reload_success", "vcr_config_reload_total", "vcr_dns_updates_total",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("metric %s missing; have %v", want, names)
		}
	}
	for _, mf := range mfs {
		if mf.GetName() != "vcr_recovery_phase_duration_seconds" {
			continue
		}
		phases := map[string]uint64{}
		for _, m := range mf.GetMetric() {
			phases[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
		}
		for _, p := range []string{"detect", "fence", "prepare", "verify", "switch", "finalize"} {
			if phases[p] != 1 {
				t.Errorf("phase %s observed %d times, want 1", p, phases[p])
			}
		}
	}
}

// TestSelfWatchMetrics: the receiver exports what its own alerts
// (rules/vcr-receiver-health.rules.yml) watch: incidents waiting for an
// operator, journal write errors and lost etcd leases.
func TestSelfWatchMetrics(t *testing.T) {
	h := newHarness(t, testConfig)
	h.strat.err = errors.New("container web does not exist on standby")
	id := openIncident(t, h, shutoffWeb)
	h.waitState(id, api.StateFailed)
	h.r.Wait()
	if err := testutil.GatherAndCompare(h.registry, strings.NewReader(`
# HELP vcr_incidents_held Incidents this replica holds (running, failed or needing attention, until resolved or acknowledged), by service and state.
# TYPE vcr_incidents_held gauge
vcr_incidents_held{service="web",state="failed"} 1
`), "vcr_incidents_held"); err != nil {
		t.Errorf("failed incident: %v", err)
	}
	if _, err := h.r.Acknowledge(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(h.registry, "vcr_incidents_held"); err != nil || n != 0 {
		t.Errorf("vcr_incidents_held has %d series after the acknowledgement (%v), want none", n, err)
	}

	h.j.fail.Store(true)
	if code, _ := h.post(payload("firing", shutoffWeb)); code != 503 {
		t.Fatalf("journal failure answered %d", code)
	}
	h.j.fail.Store(false)
	if got := testutil.ToFloat64(h.r.m.journalWriteErrors); got != 1 {
		t.Errorf("vcr_journal_write_errors_total = %v, want 1", got)
	}
}

// TestLeaseLostIsCounted: a replica whose etcd lease expires counts it.
func TestLeaseLostIsCounted(t *testing.T) {
	store, rs, regs := replicas(t, 1, &fakeStrategies{}, &fakeDNS{})
	store.mu.Lock()
	a := store.members[0]
	store.mu.Unlock()
	store.expire(a, true)
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(rs[0].m.leaseLost) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("vcr_receiver_etcd_lease_lost_total never became 1")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n, err := testutil.GatherAndCount(regs[0], "vcr_receiver_etcd_lease_lost_total"); err != nil || n != 1 {
		t.Errorf("vcr_receiver_etcd_lease_lost_total not exported: %d, %v", n, err)
	}
}
