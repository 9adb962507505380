package rules

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	ruleFile     = "vcr.rules.yml"
	repoRoot     = ".."
	dashboardDir = "../deploy/grafana/dashboards"
	amConfig     = "../deploy/alertmanager/alertmanager.yml"
	promConfig   = "../deploy/prometheus/prometheus.yml"
	runbooks     = "../docs/runbooks.md"
)

// documentedAlerts are the alert names docs/ARCHITECTURE.md lists under "Interfaces"; the fast
// path uses the same names.
var documentedAlerts = []string{
	"VCRDomainShutoff", "VCRDomainCrashed", "VCRDomainCPUPinned", "VCRDomainCPUZero",
	"VCRHostHeartbeatLost", "VCRCloudDown", "VCRStandbyOverloaded",
}

func readRules(t *testing.T) *File {
	t.Helper()
	f, err := ReadFile(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func readDashboards(t *testing.T) []*Dashboard {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dashboardDir, "*.json"))
	if err != nil || len(paths) < 2 {
		t.Fatalf("want the fleet and recovery dashboards in %s, found %v (%v)", dashboardDir, paths, err)
	}
	var out []*Dashboard
	for _, p := range paths {
		d, err := ReadDashboard(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// Every PromQL expression we ship must parse: rules, dashboard panels and dashboard variables.
func TestEveryExpressionParses(t *testing.T) {
	n := 0
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			if err := ParseExpr(r.Expr); err != nil {
				t.Errorf("rule %s (group %s): %v", r.Name(), g.Name, err)
			}
			n++
		}
	}
	for _, d := range readDashboards(t) {
		for _, q := range append(d.Queries(), d.VariableQueries()...) {
			expr, err := ExpandVars(q.Expr, "")
			if err != nil {
				t.Errorf("%s: %v", q.ID(), err)
				continue
			}
			if err := ParseExpr(expr); err != nil {
				t.Errorf("%s: %v", q.ID(), err)
			}
			n++
		}
	}
	t.Logf("%d expressions parsed", n)
}

// A broken expression must be caught, or the test above proves nothing.
func TestParseExprRejectsBrokenPromQL(t *testing.T) {
	for _, bad := range []string{`rate(x[1m]`, `sum by (a (x)`, `x{a="1"} ==`, `rate(x[$__rate_interval])`} {
		if err := ParseExpr(bad); err == nil {
			t.Errorf("ParseExpr(%q) accepted a broken expression", bad)
		}
	}
}

func TestRuleFileCarriesWhatReceiversAndOperatorsNeed(t *testing.T) {
	names := checkAlerts(t, readRules(t))
	slices.Sort(names)
	want := slices.Clone(documentedAlerts)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("alerts %v, docs/ARCHITECTURE.md (\"Interfaces\") names %v", names, want)
	}
}

// checkAlerts checks that every alert of f explains its wait, has a
// severity, a summary, a description and a runbook section, and returns
// their names.
func checkAlerts(t *testing.T, f *File) []string {
	t.Helper()
	var names []string
	book, err := os.ReadFile(runbooks)
	if err != nil {
		t.Fatalf("runbook_url points into docs/runbooks.md: %v", err)
	}
	for _, r := range f.Alerts() {
		names = append(names, r.Alert)
		if r.For == "" {
			t.Errorf("%s: no for: (every alert explains its wait)", r.Alert)
		}
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("%s: severity label %q, want critical or warning", r.Alert, s)
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if r.Annotations[a] == "" {
				t.Errorf("%s: missing annotation %s", r.Alert, a)
			}
		}
		anchor := strings.ToLower(r.Alert)
		if !strings.HasSuffix(r.Annotations["runbook_url"], "docs/runbooks.md#"+anchor) {
			t.Errorf("%s: runbook_url %q should end in docs/runbooks.md#%s", r.Alert, r.Annotations["runbook_url"], anchor)
		}
		if !bytes.Contains(book, []byte("## "+r.Alert+"\n")) {
			t.Errorf("%s: docs/runbooks.md has no section \"## %s\"", r.Alert, r.Alert)
		}
	}
	return names
}

var recordedNameRE = regexp.MustCompile(`\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b`)

// Dashboards read recording rules by name: each one they use must be recorded.
func TestDashboardsUseRecordedSeriesThatExist(t *testing.T) {
	recorded := map[string]bool{}
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}
	for _, d := range readDashboards(t) {
		for _, q := range d.Queries() {
			for _, name := range recordedNameRE.FindAllString(q.Expr, -1) {
				if !recorded[name] {
					t.Errorf("%s uses %s, which no rule records", q.ID(), name)
				}
			}
		}
	}
}

func TestGrafanaProvisioningMatchesDashboards(t *testing.T) {
	var ds struct {
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
		} `yaml:"datasources"`
	}
	b, err := os.ReadFile("../deploy/grafana/provisioning/datasources/vcrcovery.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds.Datasources) != 1 || ds.Datasources[0].UID != DatasourceUID || ds.Datasources[0].Type != "prometheus" {
		t.Errorf("datasource provisioning %+v, want one prometheus datasource with uid %s", ds.Datasources, DatasourceUID)
	}
	uids := map[string]bool{}
	for _, d := range readDashboards(t) {
		if uids[d.UID] {
			t.Errorf("dashboard uid %s used twice", d.UID)
		}
		uids[d.UID] = true
	}
}

func TestReadDashboardRejectsBadShape(t *testing.T) {
	dir := t.TempDir()
	// Each body is wrong in one way only.
	const dsVar = `"templating":{"list":[{"name":"datasource","type":"datasource","query":"prometheus","current":{"value":"vcr-prometheus"}}]}`
	const ds = `"datasource":{"uid":"${datasource}"}`
	for name, body := range map[string]string{
		"notjson":    `{"uid": `,
		"nopanels":   `{"uid":"a","title":"A","schemaVersion":39,` + dsVar + `,"panels":[]}`,
		"wrongds":    `{"uid":"a","title":"A","schemaVersion":39,` + dsVar + `,"panels":[{"id":1,"type":"stat","title":"x","gridPos":{"h":1,"w":1,"x":0,"y":0},"datasource":{"uid":"other"},"targets":[{"refId":"A","expr":"up"}]}]}`,
		"fixedds":    `{"uid":"a","title":"A","schemaVersion":39,` + dsVar + `,"panels":[{"id":1,"type":"stat","title":"x","gridPos":{"h":1,"w":1,"x":0,"y":0},"datasource":{"uid":"vcr-prometheus"},"targets":[{"refId":"A","expr":"up"}]}]}`,
		"novariable": `{"uid":"a","title":"A","schemaVersion":39,"panels":[{"id":1,"type":"stat","title":"x","gridPos":{"h":1,"w":1,"x":0,"y":0},` + ds + `,"targets":[{"refId":"A","expr":"up"}]}]}`,
		"offgrid":    `{"uid":"a","title":"A","schemaVersion":39,` + dsVar + `,"panels":[{"id":1,"type":"stat","title":"x","gridPos":{"h":1,"w":20,"x":10,"y":0},` + ds + `,"targets":[{"refId":"A","expr":"up"}]}]}`,
		"plugin":     `{"uid":"a","title":"A","schemaVersion":39,` + dsVar + `,"panels":[{"id":1,"type":"grafana-worldmap-panel","title":"x","gridPos":{"h":1,"w":1,"x":0,"y":0},` + ds + `,"targets":[{"refId":"A","expr":"up"}]}]}`,
		"duprefid":   `{"uid":"a","title":"A","schemaVersion":39,` + dsVar + `,"panels":[{"id":1,"type":"stat","title":"x","gridPos":{"h":1,"w":1,"x":0,"y":0},` + ds + `,"targets":[{"refId":"A","expr":"up"},{"refId":"A","expr":"up"}]}]}`,
		"emptyquery": `{"uid":"a","title":"A","schemaVersion":39,` + dsVar + `,"panels":[{"id":1,"type":"stat","title":"x","gridPos":{"h":1,"w":1,"x":0,"y":0},` + ds + `,"targets":[{"refId":"A","expr":""}]}]}`,
	} {
		p := filepath.Join(dir, name+".json")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadDashboard(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// The same shape, right: accepted, so each rejection above is for its one fault.
	good := `{"uid":"a","title":"A","schemaVersion":39,` + dsVar + `,"panels":[{"id":1,"type":"stat","title":"x","gridPos":{"h":1,"w":1,"x":0,"y":0},` + ds + `,"targets":[{"refId":"A","expr":"up"}]}]}`
	p := filepath.Join(dir, "good.json")
	if err := os.WriteFile(p, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadDashboard(p); err != nil {
		t.Errorf("a well-formed dashboard was rejected: %v", err)
	}
}

func TestExpandVars(t *testing.T) {
	got, err := ExpandVars(`rate(x{cloud=~"$cloud",host=~"${host}"}[$__rate_interval]) + increase(y[$__range])`, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := `rate(x{cloud=~".*",host=~".*"}[1m]) + increase(y[1h])`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	got, _ = ExpandVars(`increase(y[$__range])`, "30s")
	if got != `increase(y[30s])` {
		t.Errorf("range override: got %s", got)
	}
	if _, err := ExpandVars(`x{a="$nosuch"}`, ""); err == nil {
		t.Error("unknown variable accepted")
	}
}

func TestWithForShortensNamedAlertsOnly(t *testing.T) {
	src, err := os.ReadFile(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	out, err := WithFor(src, map[string]time.Duration{"VCRDomainShutoff": 2 * time.Second, "VCRDomainCrashed": 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "short.yml")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	short, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	orig := readRules(t)
	want := map[string]string{"VCRDomainShutoff": "2s", "VCRDomainCrashed": "1500ms"}
	for i, r := range short.Alerts() {
		o := orig.Alerts()[i]
		w, ok := want[r.Alert]
		if !ok {
			w = o.For
		}
		if r.For != w || r.Expr != o.Expr || r.Annotations["summary"] != o.Annotations["summary"] {
			t.Errorf("%s: for %q expr %q, want for %q and the original expr", r.Alert, r.For, r.Expr, w)
		}
	}
	if _, err := WithFor(src, map[string]time.Duration{"NoSuchAlert": time.Second}); err == nil {
		t.Error("unknown alert name accepted")
	}
}

func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: run `make deps` (Debian packages prometheus and prometheus-alertmanager)", name)
	}
	return p
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(lookTool(t, name), args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}

// The same checks as `make rules-test`, so that `go test ./...` covers them too.
func TestPromtoolCheckAndUnitTests(t *testing.T) {
	ruleFiles, _ := filepath.Glob(filepath.Join(repoRoot, "rules", "*.yml"))
	tests, _ := filepath.Glob(filepath.Join(repoRoot, "rules", "tests", "*.yml"))
	if len(ruleFiles) == 0 || len(tests) < 5 {
		t.Fatalf("rule files %v, promtool tests %v", ruleFiles, tests)
	}
	for i := range ruleFiles {
		ruleFiles[i], _ = filepath.Rel(repoRoot, ruleFiles[i])
	}
	for i := range tests {
		tests[i], _ = filepath.Rel(repoRoot, tests[i])
	}
	run(t, repoRoot, "promtool", append([]string{"check", "rules"}, ruleFiles...)...)
	out := run(t, repoRoot, "promtool", append([]string{"test", "rules"}, tests...)...)
	if strings.Contains(out, "FAILED") {
		t.Fatalf("promtool test rules:\n%s", out)
	}
}

func TestAlertmanagerConfig(t *testing.T) {
	out := run(t, ".", "amtool", "check-config", amConfig)
	if !strings.Contains(out, "SUCCESS") || !strings.Contains(out, "2 inhibit rules") {
		t.Fatalf("amtool check-config:\n%s", out)
	}
	// Routing: our alerts reach the receiver's webhook, anything else goes nowhere.
	for labels, want := range map[string]string{
		"alertname=VCRDomainShutoff domain=web1 host=hv1 cloud=tokyo": "vcr-receiver",
		"alertname=VCRCloudDown cloud=tokyo":                          "vcr-receiver",
		"alertname=NodeDown instance=x":                               "blackhole",
	} {
		args := append([]string{"config", "routes", "test", "--config.file=" + amConfig}, strings.Fields(labels)...)
		got := strings.TrimSpace(run(t, ".", "amtool", args...))
		if got != want {
			t.Errorf("route for %s: %q, want %q", labels, got, want)
		}
	}
}

// The shipped prometheus.yml is valid once its files exist: copy the rules to where it expects
// them (in a temporary directory) and give it placeholder TLS files.
func TestPrometheusConfig(t *testing.T) {
	b, err := os.ReadFile(promConfig)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := strings.ReplaceAll(string(b), "/etc/prometheus/vcrcovery/", dir+"/")
	rules, err := os.ReadFile(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"prometheus.yml": []byte(cfg), "vcr.rules.yml": rules}
	for _, f := range []string{"lxd-standby-server.crt", "lxd-metrics.crt", "lxd-metrics.key"} {
		files[f] = nil
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := run(t, dir, "promtool", "check", "config", "prometheus.yml")
	if !regexp.MustCompile(`SUCCESS: [1-9][0-9]* rules found`).MatchString(out) {
		t.Errorf("promtool check config did not load the rules:\n%s", out)
	}
}
