package receiver

import (
	"slices"
	"testing"

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
