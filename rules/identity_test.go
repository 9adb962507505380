package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"gopkg.in/yaml.v3"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/exporter/fastpath"
	"github.com/vcrcovery/vcrcovery/internal/virt"
)

// identityCase is one libvirt observation: a (state, reason) pair as a scrape
// sees it, or an (event, detail) pair as the fast path hears it, with the
// state and reason it leaves behind for the next scrape.
type identityCase struct {
	name          string
	state, reason int32
	durable       bool // false: the event leaves no state the rule path could see
	verdict       failure.Verdict
	alertname     string
}

// stateReasons lists every reason code of every libvirt domain state
// (virDomain<State>Reason in libvirt-domain.h).
var stateReasons = map[int32]int32{ // state -> highest reason
	virt.StateNoState:     0,
	virt.StateRunning:     int32(libvirt.DomainRunningPostcopyFailed),
	virt.StateBlocked:     0,
	virt.StatePaused:      int32(libvirt.DomainPausedAPIError),
	virt.StateShutdown:    int32(libvirt.DomainShutdownUser),
	virt.StateShutoff:     int32(libvirt.DomainShutoffDaemon),
	virt.StateCrashed:     int32(libvirt.DomainCrashedPanicked),
	virt.StatePMSuspended: 0,
}

func identityCases(t *testing.T) []identityCase {
	var cases []identityCase
	states := make([]int32, 0, len(stateReasons))
	for s := range stateReasons {
		states = append(states, s)
	}
	slices.Sort(states)
	for _, s := range states {
		for r := int32(0); r <= stateReasons[s]; r++ {
			v, a := failure.ClassifyStateReason(s, r)
			cases = append(cases, identityCase{name: fmt.Sprintf("state %s reason %d", virt.StateName(s), r),
				state: s, reason: r, durable: true, verdict: v, alertname: a})
		}
	}
	for ev := int32(0); ev <= int32(libvirt.DomainEventCrashed); ev++ {
		for d := int32(0); !strings.HasPrefix(virt.DetailName(ev, d), "unknown_"); d++ {
			v, a := failure.Classify(ev, d)
			s, r, ok := failure.AfterEvent(ev, d)
			c := identityCase{name: "event " + virt.EventName(ev) + "/" + virt.DetailName(ev, d), state: s, reason: r, durable: ok, verdict: v, alertname: a}
			if !ok && v == failure.Fire {
				t.Errorf("%s: the fast path fires %s, but the event leaves no state the rule path could ever see", c.name, a)
			}
			cases = append(cases, c)
		}
	}
	if len(cases) < 80 {
		t.Fatalf("only %d cases: the enumeration is broken", len(cases))
	}
	return cases
}

// relabelRole is what deploy/prometheus/prometheus.yml's metric relabelling
// of the vcr-exporter job does to a domain's series: the role it sets.
func relabelRole(t *testing.T) func(domain string) string {
	cfg := readYAML(t, promConfig)
	for _, j := range cfg["scrape_configs"].([]any) {
		job := j.(map[string]any)
		if job["job_name"] != "vcr-exporter" {
			continue
		}
		for _, r := range job["metric_relabel_configs"].([]any) {
			rc := r.(map[string]any)
			if rc["target_label"] != "role" {
				continue
			}
			if src, _ := rc["source_labels"].([]any); len(src) != 1 || src[0] != "domain" {
				t.Fatalf("%s: the role relabelling reads %v, want [domain]", promConfig, rc["source_labels"])
			}
			re := regexp.MustCompile("^(?:" + rc["regex"].(string) + ")$") // anchored, as Prometheus does
			role := rc["replacement"].(string)
			return func(domain string) string {
				if re.MatchString(domain) {
					return role
				}
				return ""
			}
		}
	}
	t.Fatalf("%s: no metric relabelling of the vcr-exporter job sets role", promConfig)
	return nil
}

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// promLabels renders a label set in PromQL's series notation, sorted.
func promLabels(name string, l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(name + "{")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%s=%q", k, l[k])
	}
	b.WriteString("}")
	return b.String()
}

// The same failure carries the same alert identity on both paths. For every
// (state, reason) a scrape can see and every (event, detail) the fast path
// can hear, for an ordinary domain and the standby VM, the rule path
// (promtool, on the shipped rules, the series relabelled as prometheus.yml
// does) must hold exactly the alerts the fast path pushes: the same
// alertname and the same labels, so that Alertmanager merges the two into one.
// Where the fast path fires nothing, or resolves, the rule path fires nothing.
func TestAlertIdentityFastPathAndRules(t *testing.T) {
	re, err := fastpath.StandbyDomains(fastpath.DefaultStandbyDomainRegex)
	if err != nil {
		t.Fatal(err)
	}
	pusher, err := fastpath.New(fastpath.Options{StandbyDomains: re}, nil)
	if err != nil {
		t.Fatal(err)
	}
	role := relabelRole(t)
	domains := []struct{ name, uuid string }{
		{"web", "11111111-2222-3333-4444-555555555555"},
		{"vcr-standby-1", "99999999-8888-7777-6666-555555555555"},
	}
	var b strings.Builder
	abs, err := filepath.Abs(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "rule_files: [%q]\nevaluation_interval: 15s\ntests:\n", abs)
	groups := 0
	for _, c := range identityCases(t) {
		if !c.durable {
			continue
		}
		groups++
		fmt.Fprintf(&b, "  - name: %q\n    interval: 15s\n    input_series:\n", c.name)
		var want []string
		for _, d := range domains {
			series := map[string]string{"job": "vcr-exporter", "instance": "hv1:9477", "host": "hv1", "cloud": "tokyo", "domain": d.name, "uuid": d.uuid}
			if r := role(d.name); r != "" {
				series["role"] = r
			}
			fmt.Fprintf(&b, "      - series: '%s'\n        values: '%dx20'\n", promLabels("vcr_domain_state", series), c.state)
			fmt.Fprintf(&b, "      - series: '%s'\n        values: '%dx20'\n", promLabels("vcr_domain_state_reason", series), c.reason)
			if c.verdict != failure.Fire {
				continue
			}
			ev := failure.DomainEvent{Host: "hv1", Cloud: "tokyo", Domain: d.name, UUID: d.uuid, State: c.state, Source: "libvirt", At: time.Now()}
			labels := pusher.Alert(ev, c.alertname).Labels
			labels["alertstate"] = "firing"
			want = append(want, promLabels("ALERTS", labels))
		}
		// 3m: past every `for:` of the rule file.
		b.WriteString("    promql_expr_test:\n      - expr: 'ALERTS{alertstate=\"firing\"}'\n        eval_time: 3m\n        exp_samples:")
		if len(want) == 0 {
			b.WriteString(" []\n")
		}
		b.WriteString("\n")
		for _, w := range want {
			fmt.Fprintf(&b, "          - labels: '%s'\n            value: 1\n", w)
		}
	}
	path := filepath.Join(t.TempDir(), "identity_test.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run(t, ".", "promtool", "test", "rules", path)
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules (%d groups):\n%s", groups, out)
	}
	t.Logf("%d (state, reason) and (event, detail) cases, two domains each: the rule path fires exactly what the fast path pushes", groups)
}

// Prometheus adds its external_labels to every alert it sends, and the fast
// path cannot know them: an external label the rule path's alerts keep makes
// the two paths' copies of one failure two alerts. prometheus.yml must have
// none, or drop each from alerts (alerting.alert_relabel_configs, labeldrop).
func TestExternalLabelsDoNotSplitAlerts(t *testing.T) {
	cfg := readYAML(t, promConfig)
	global, _ := cfg["global"].(map[string]any)
	ext, _ := global["external_labels"].(map[string]any)
	var drops []*regexp.Regexp
	if alerting, ok := cfg["alerting"].(map[string]any); ok {
		relabels, _ := alerting["alert_relabel_configs"].([]any)
		for _, r := range relabels {
			rc := r.(map[string]any)
			if rc["action"] == "labeldrop" {
				drops = append(drops, regexp.MustCompile("^(?:"+rc["regex"].(string)+")$"))
			}
		}
	}
	for name := range ext {
		if !slices.ContainsFunc(drops, func(re *regexp.Regexp) bool { return re.MatchString(name) }) {
			t.Errorf("%s: external label %q reaches the rule path's alerts but not the fast path's; drop it in alerting.alert_relabel_configs (docs/runbooks.md, \"Label conventions\")", promConfig, name)
		}
	}
}
