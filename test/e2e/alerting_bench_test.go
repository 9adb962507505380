package e2e

import (
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// BenchmarkAlertingDetection measures what TestAlerting logs: a test-driver domain destroyed,
// until Alertmanager's notification reaches the webhook, by the fast path (host a2's exporter
// pushes) and by the rule path (host a1's exporter is scraped, Prometheus at 1 s intervals with
// the e2e `for:` values). The stack is the shipped configuration with the test's addresses, as in
// TestAlerting, minus the guest VM and vcr-receiver. It takes at least 10 samples whatever b.N
// is and reports their medians; ns/op is meaningless here.
func BenchmarkAlertingDetection(b *testing.B) {
	lv := testenv.Libvirt(b)
	td := lv.TestDriver(b)
	bin := testenv.Binary(b, "vcr-exporter")
	token, tokenFile := newAlertingToken(b)
	hook := newAlertingWebhook(b, token)
	am := testenv.StartAlertmanager(b, testenv.AlertmanagerOptions{ConfigYAML: alertingAlertmanagerConfig(b, []string{hook.URL()}, tokenFile)})
	a1 := startAlertingExporter(b, bin, td.URI, "a1", "e2e-a", "")
	a2 := startAlertingExporter(b, bin, td.URI, "a2", "e2e-a", am.URL)
	prom := testenv.StartPrometheus(b, testenv.PrometheusOptions{
		ConfigYAML: alertingPrometheusConfig(b, hostPort(am.URL), "", []alertingTarget{{a1.addr, "a1", "e2e-a"}, {a2.addr, "a2", "e2e-a"}}),
		RuleFiles:  []string{alertingRuleFile(b)},
	})
	waitQuery(b, prom, 20*time.Second, `up{job="vcr-exporter"} == 1`, 2)

	n := max(b.N, 10)
	b.ResetTimer()
	fast, rule := measureDetection(b, td, prom, am, hook, n, false)
	b.StopTimer()
	b.ReportMetric(float64(median(fast).Microseconds())/1000, "fast-p50-ms")
	b.ReportMetric(float64(median(rule).Microseconds())/1000, "rule-p50-ms")
	b.ReportMetric(float64(n), "samples")
	b.Logf("fast path %v; rule path %v", fast, rule)
}
