package layout

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// modulePackages lists the module's packages and their in-module
// dependencies, from the go tool itself.
func modulePackages(t *testing.T) []Package {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", Module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	var pkgs []Package
	for {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		path, ok := Inside(p.ImportPath)
		if !ok {
			continue
		}
		pkg := Package{Path: path}
		for _, d := range p.Deps {
			if in, ok := Inside(d); ok {
				pkg.Deps = append(pkg.Deps, in)
			}
		}
		pkgs = append(pkgs, pkg)
	}
	return pkgs
}

func TestImportDirections(t *testing.T) {
	pkgs := modulePackages(t)
	if len(pkgs) < 20 {
		t.Fatalf("go list found only %d packages of the module; is the test run inside it?", len(pkgs))
	}
	violations, err := Check(Rules, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range violations {
		t.Error(v)
	}
	if len(violations) > 0 {
		t.Log("the allowed directions are in docs/ARCHITECTURE.md and test/layout/rules.go")
	}
}

// The rules must catch the imports they exist for; a rule that matches
// nothing would pass forever.
func TestRulesCatchWrongDirections(t *testing.T) {
	cases := []struct {
		name string
		pkg  Package
		want string // substring of every expected violation; "" = allowed
	}{
		{"lxd importing the receiver", Package{"lxd", []string{"receiver", "receiver/api"}}, "lxd depends on receiver:"},
		{"dnsupdate importing a strategy", Package{"dnsupdate", []string{"plugins/warm"}}, "dnsupdate depends on plugins/warm:"},
		{"probe importing the exporter", Package{"probe", []string{"exporter"}}, "probe depends on exporter:"},
		{"sdk importing the manager", Package{"plugins/sdk/sdktest", []string{"plugins/sdk", "plugins/manager"}}, "plugins/sdk/sdktest depends on plugins/manager:"},
		{"sdk importing lxd", Package{"plugins/sdk", []string{"lxd"}}, "plugins/sdk depends on lxd:"},
		{"cold importing warm", Package{"plugins/cold", []string{"plugins/warm", "plugins/sdk"}}, "plugins/cold depends on plugins/warm:"},
		{"scaleup importing cold", Package{"plugins/scaleup", []string{"plugins/cold"}}, "plugins/scaleup depends on plugins/cold:"},
		{"a strategy importing the receiver", Package{"plugins/warm", []string{"receiver/config"}}, "plugins/warm depends on receiver/config:"},
		{"the exporter importing the receiver", Package{"exporter", []string{"receiver/api"}}, "exporter depends on receiver/api:"},
		{"the receiver importing the exporter", Package{"receiver", []string{"exporter"}}, "receiver depends on exporter:"},
		{"the fast path importing the collectors", Package{"exporter/fastpath", []string{"exporter/failure", "exporter/collector"}}, "exporter/fastpath depends on exporter/collector:"},
		{"the trap receiver importing the fast path", Package{"exporter/snmptrap", []string{"exporter/fastpath"}}, "exporter/snmptrap depends on exporter/fastpath:"},
		{"a collector using the libvirt side", Package{"exporter/collector", []string{"exporter/lifecycle", "exporter/snmptrap", "exporter/failure", "lxd"}}, ""},
		{"the journal importing the pipeline", Package{"receiver/journal/etcd", []string{"receiver/journal", "receiver/api", "receiver/pipeline"}}, "receiver/journal/etcd depends on receiver/pipeline:"},
		{"the ownership seam importing the pipeline", Package{"receiver/ownership", []string{"receiver/journal", "receiver/pipeline"}}, "receiver/ownership depends on receiver/pipeline:"},
		{"live importing the receiver", Package{"receiver/live", []string{"receiver/pipeline", "receiver"}}, "receiver/live depends on receiver:"},
		{"the capacity view importing the pipeline", Package{"receiver/capacity", []string{"receiver/config", "lxd", "receiver/pipeline"}}, "receiver/capacity depends on receiver/pipeline:"},
		{"the capacity view importing the strategies' helpers", Package{"receiver/capacity", []string{"plugins/internal/strategy"}}, "receiver/capacity depends on plugins/internal/strategy:"},
		{"the capacity view reading the config and LXD", Package{"receiver/capacity", []string{"receiver/config", "receiver/api", "lxd", "plugins/sdk"}}, ""},
		{"the status page importing the journal", Package{"receiver/ui", []string{"receiver/api", "receiver/journal"}}, "receiver/ui depends on receiver/journal:"},
		{"the pipeline importing the receiver", Package{"receiver/pipeline", []string{"receiver"}}, "receiver/pipeline depends on receiver:"},
		{"a package importing a main package", Package{"test/system", []string{"cmd/vcrctl"}}, "test/system depends on cmd/vcrctl:"},
		{"shipped code importing testenv", Package{"plugins/backupstore", []string{"test/testenv"}}, "plugins/backupstore depends on test/testenv:"},
		{"a strategy using shared helpers", Package{"plugins/cold", []string{"plugins/internal/strategy", "plugins/backupstore", "plugins/sdk", "lxd"}}, ""},
		{"a strategy test harness using testenv", Package{"plugins/internal/strategytest", []string{"test/testenv", "plugins/sdk/sdktest"}}, ""},
		{"the receiver using its parts", Package{"receiver", []string{"receiver/pipeline", "receiver/journal", "plugins/sdk", "receiver/api"}}, ""},
		{"vcrctl using the backup store", Package{"cmd/vcrctl", []string{"plugins/backupstore", "receiver/api", "lxd"}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Check(Rules, []Package{tc.pkg})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == "" && len(got) != 0:
				t.Errorf("allowed dependency reported: %v", got)
			case tc.want != "" && len(got) == 0:
				t.Errorf("want a violation %q, got none", tc.want)
			}
			for _, v := range got {
				if tc.want != "" && !strings.Contains(v.String(), tc.want) {
					t.Errorf("want only %q, got %q", tc.want, v)
				}
			}
		})
	}
}

func TestCheckRejectsBadPattern(t *testing.T) {
	if _, err := Check([]Rule{{Why: "x", From: "(", To: "y"}}, nil); err == nil {
		t.Fatal("a rule with an invalid pattern was accepted")
	}
}
