package system

// Configuration of the alerting side: Alertmanager's config (the shipped one
// pointed at this receiver), Prometheus's scrape config and the project's
// rules with their `for:` and rate windows shortened when Options ask.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	promrules "github.com/vcrcovery/vcrcovery/rules"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// AlertmanagerConfig is deploy/alertmanager/alertmanager.yml with the
// vcr-receiver webhook pointed at webhookURL, its bearer token read from
// tokenFile and the VCR route's group_interval set to groupInterval: the
// routes, grouping and inhibit rules are the production ones.
func AlertmanagerConfig(t testenv.TB, webhookURL, tokenFile, groupInterval string) string {
	t.Helper()
	path := filepath.Join(testenv.ModuleRoot(t), "deploy", "alertmanager", "alertmanager.yml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("system: %v", err)
	}
	var cfg struct {
		Global       map[string]any   `yaml:"global,omitempty"`
		Route        map[string]any   `yaml:"route"`
		Receivers    []map[string]any `yaml:"receivers"`
		InhibitRules []any            `yaml:"inhibit_rules"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("system: decode %s: %v", path, err)
	}
	hooks := 0
	for _, rc := range cfg.Receivers {
		if rc["name"] != "vcr-receiver" {
			continue
		}
		for _, h := range rc["webhook_configs"].([]any) {
			wc := h.(map[string]any)
			wc["url"] = webhookURL
			wc["http_config"].(map[string]any)["authorization"].(map[string]any)["credentials_file"] = tokenFile
			hooks++
		}
	}
	routes := 0
	for _, r := range cfg.Route["routes"].([]any) {
		if route := r.(map[string]any); route["receiver"] == "vcr-receiver" {
			route["group_interval"] = groupInterval
			routes++
		}
	}
	if hooks != 1 || routes != 1 {
		t.Fatalf("system: %s: want one vcr-receiver webhook and route, found %d and %d", path, hooks, routes)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatalf("system: encode alertmanager config: %v", err)
	}
	return string(out)
}

// prometheusConfig scrapes every exporter started so far every second and
// sends alerts to this system's Alertmanager.
func (s *System) prometheusConfig() string {
	// One static config per exporter, so each target carries its host label
	// (as deploy/prometheus/prometheus.yml does).
	var targets strings.Builder
	for host, addr := range s.ExporterAddrs {
		fmt.Fprintf(&targets, "      - targets: ['%s']\n        labels: {host: %s, cloud: %s}\n", addr, host, s.Opts.Cloud)
	}
	return fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['%s']
scrape_configs:
  - job_name: vcr-exporter
    static_configs:
%s`, strings.TrimPrefix(s.AM.URL, "http://"), targets.String())
}

// rulesFile returns the path of the rules Prometheus loads:
// rules/vcr.rules.yml itself, or a copy in the system's directory with the
// `for:` durations and rate windows the options ask for.
func (s *System) rulesFile(t testenv.TB) string {
	t.Helper()
	rules := filepath.Join(testenv.ModuleRoot(t), "rules", "vcr.rules.yml")
	if fors := s.shortFors(t, rules); len(fors) > 0 || s.Opts.RuleWindow != "" {
		b, err := os.ReadFile(rules)
		if err != nil {
			t.Fatalf("system: %v", err)
		}
		if len(fors) > 0 {
			if b, err = promrules.WithFor(b, fors); err != nil {
				t.Fatalf("system: %v", err)
			}
		}
		if s.Opts.RuleWindow != "" {
			b = []byte(strings.ReplaceAll(string(b), "[1m]", "["+s.Opts.RuleWindow+"]"))
		}
		rules = filepath.Join(s.Dir, "vcr.rules.yml")
		if err := os.WriteFile(rules, b, 0o644); err != nil {
			t.Fatalf("system: %v", err)
		}
	}
	return rules
}

// shortFors says what each alert's `for:` becomes under RuleFor or
// RuleForDivisor; nil when the shipped values stay.
func (s *System) shortFors(t testenv.TB, path string) map[string]time.Duration {
	if s.Opts.RuleFor == 0 && s.Opts.RuleForDivisor <= 1 {
		return nil
	}
	f, err := promrules.ReadFile(path)
	if err != nil {
		t.Fatalf("system: %v", err)
	}
	fors := map[string]time.Duration{}
	for _, a := range f.Alerts() {
		if a.For == "" {
			continue
		}
		d := max(s.Opts.RuleFor, 0)
		if s.Opts.RuleForDivisor > 1 {
			orig, err := time.ParseDuration(a.For)
			if err != nil {
				t.Fatalf("system: rules: %s for: %q: %v", a.Alert, a.For, err)
			}
			d = (orig / time.Duration(s.Opts.RuleForDivisor)).Round(time.Millisecond)
		}
		fors[a.Alert] = d
	}
	return fors
}
