package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vcrcovery/vcrcovery/rules"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// alertingFor are the `for:` values of the e2e copy of rules/vcr.rules.yml: the production waits
// (15 s scrapes, minutes of patience) scaled to a 1 s scrape and evaluation interval, so the whole
// package stays within its time budget. What they keep from production: VCRCloudDown fires two
// evaluations before VCRHostHeartbeatLost, so its inhibition is in place first even when the
// exporters of a cloud fail one scrape apart. VCRDomainCPUZero, CPUPinned and StandbyOverloaded
// keep their production waits: the test driver's CPU figures are synthetic, and the e2e does not
// assert those alerts (the promtool tests in rules/tests do).
var alertingFor = map[string]time.Duration{
	"VCRDomainShutoff":     2 * time.Second,
	"VCRDomainCrashed":     time.Second,
	"VCRHostHeartbeatLost": 4 * time.Second,
	"VCRCloudDown":         2 * time.Second,
}

// alertingTarget is one vcr-exporter as Prometheus scrapes it.
type alertingTarget struct {
	addr, host, cloud string
}

// alertingRuleFile writes the e2e copy of rules/vcr.rules.yml (alertingFor applied) and returns
// its path.
func alertingRuleFile(t testenv.TB) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "rules", "vcr.rules.yml"))
	if err != nil {
		t.Fatalf("read rules: %v", err)
	}
	out, err := rules.WithFor(src, alertingFor)
	if err != nil {
		t.Fatalf("shorten rules: %v", err)
	}
	p := filepath.Join(t.TempDir(), "vcr.rules.yml")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatalf("write rules: %v", err)
	}
	return p
}

// alertingPrometheusConfig derives the test's Prometheus configuration from
// deploy/prometheus/prometheus.yml: the same vcr-exporter job (label handling and the standby
// relabelling included) with the test's targets, the vcr-receiver job pointed at the test's
// receiver (dropped when receiverAddr is empty), 1 s intervals, and the test's Alertmanager. The
// lxd-standby job is dropped: there is no standby LXD in this test.
func alertingPrometheusConfig(t testenv.TB, alertmanagerAddr, receiverAddr string, targets []alertingTarget) string {
	t.Helper()
	cfg := readYAMLMap(t, filepath.Join(testenv.ModuleRoot(t), "deploy", "prometheus", "prometheus.yml"))
	global := cfg["global"].(map[string]any)
	global["scrape_interval"] = "1s"
	global["scrape_timeout"] = "900ms"
	global["evaluation_interval"] = "1s"
	cfg["alerting"] = map[string]any{"alertmanagers": []any{
		map[string]any{"static_configs": []any{map[string]any{"targets": []any{alertmanagerAddr}}}},
	}}
	var job, receiverJob map[string]any
	for _, j := range cfg["scrape_configs"].([]any) {
		switch m := j.(map[string]any); m["job_name"] {
		case "vcr-exporter":
			job = m
		case "vcr-receiver":
			receiverJob = m
		}
	}
	if job == nil || receiverJob == nil {
		t.Fatalf("deploy/prometheus/prometheus.yml lacks the vcr-exporter or vcr-receiver job")
	}
	receiverJob["static_configs"] = []any{map[string]any{"targets": []any{receiverAddr}}}
	jobs := []any{job, receiverJob}
	if receiverAddr == "" {
		jobs = jobs[:1]
	}
	var static []any
	for _, tg := range targets {
		static = append(static, map[string]any{
			"targets": []any{tg.addr},
			"labels":  map[string]any{"host": tg.host, "cloud": tg.cloud},
		})
	}
	job["static_configs"] = static
	cfg["scrape_configs"] = jobs
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatalf("encode prometheus config: %v", err)
	}
	return string(b)
}

// alertingAlertmanagerConfig is deploy/alertmanager/alertmanager.yml with the receiver's webhook
// repeated for each of webhookURLs and its token file replaced: routes, grouping, intervals and
// inhibit rules are the production ones.
func alertingAlertmanagerConfig(t testenv.TB, webhookURLs []string, tokenFile string) string {
	t.Helper()
	cfg := readYAMLMap(t, filepath.Join(testenv.ModuleRoot(t), "deploy", "alertmanager", "alertmanager.yml"))
	found := false
	for _, r := range cfg["receivers"].([]any) {
		rc := r.(map[string]any)
		if rc["name"] != "vcr-receiver" {
			continue
		}
		hooks := rc["webhook_configs"].([]any)
		if len(hooks) != 1 {
			t.Fatalf("deploy/alertmanager/alertmanager.yml: want one vcr-receiver webhook, found %d", len(hooks))
		}
		var out []any
		for _, u := range webhookURLs {
			// A fresh decode per copy: the maps must not be shared.
			var wc map[string]any
			b, _ := yaml.Marshal(hooks[0])
			_ = yaml.Unmarshal(b, &wc)
			wc["url"] = u
			wc["http_config"].(map[string]any)["authorization"].(map[string]any)["credentials_file"] = tokenFile
			out = append(out, wc)
		}
		rc["webhook_configs"] = out
		found = true
	}
	if !found {
		t.Fatalf("deploy/alertmanager/alertmanager.yml has no vcr-receiver webhook")
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatalf("encode alertmanager config: %v", err)
	}
	return string(b)
}

func readYAMLMap(t testenv.TB, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return m
}

// hostPort strips the scheme of an http:// URL.
func hostPort(url string) string { return strings.TrimPrefix(url, "http://") }

func fmtDur(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
