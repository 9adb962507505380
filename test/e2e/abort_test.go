package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/test/system"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// TestRecoveryUndoneWhenTheSwitchFails: named refuses the DNS switch of a
// scale-up and of a cold recovery (a wrong TSIG secret for that service
// alone), and each service serves again where it did, without an operator:
// the strategy's Abort un-freezes the scale-up's source and removes its
// target copy, and removes what the cold restore imported. Each incident
// ends failed with the switch's error and an abort phase that went ok.
func TestRecoveryUndoneWhenTheSwitchFails(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts libvirtd, two LXD daemons, named, Alertmanager, exporter and receiver")
	}
	sys := system.Start(t, system.Options{
		FastPath: true, // the warm failover before the scale-up
		ScaleUp:  true,
		Services: []system.ServiceSpec{
			{Name: "moving", Strategy: "warm", OwnDNSKey: true},
			{Name: "restored", Strategy: "cold", OwnDNSKey: true},
		},
	})

	t.Run("scale-up", func(t *testing.T) {
		failover(t, sys, "moving", system.StandbyAddress, "moving\n")
		sys.RefuseDNSUpdates(t, "moving")
		defer sys.AcceptDNSUpdates(t, "moving")
		// As in TestRecoveryScenarios: post the alert the standby's rule fires.
		sys.AM.PostAlert(t, map[string]string{"alertname": "VCRStandbyOverloaded", "role": "standby",
			"domain": "standby-vm", "host": "hv-standby", "cloud": "lab", "severity": "warning"},
			map[string]string{"summary": "standby overloaded (e2e)"}, time.Now(), time.Time{})
		inc := sys.WaitIncident(t, "moving", 2*time.Minute, func(i api.Incident) bool {
			return i.Kind == api.KindScaleUp && system.Ended(i)
		})
		assertUndone(t, inc)
		// The source is un-frozen and serves at its old address again; the
		// target copy is gone.
		assertResolvesTo(t, sys, "moving", system.StandbyAddress, "moving\n")
		if status := lxdStatus(t, sys.Standby, "moving"); status != "RUNNING" {
			t.Errorf("source container on the standby is %s after the abort, want RUNNING", status)
		}
		if out, err := sys.Bigger.LxcErr(t, "info", "moving"); err == nil {
			t.Errorf("the scale-up's target copy is still on the bigger VM after the abort:\n%s", out)
		}
		sw, ab := inc.Phase(api.PhaseSwitch), inc.Phase(api.PhaseAbort)
		t.Logf("scale-up undone: %s; the abort ended %s after the switch failed (it un-freezes the source first)", phaseLine(inc), ab.EndedAt.Sub(*sw.EndedAt).Round(time.Millisecond))
	})

	t.Run("cold", func(t *testing.T) {
		// A drill: the primary stays up, so "serves again" is checkable.
		sys.RefuseDNSUpdates(t, "restored")
		defer sys.AcceptDNSUpdates(t, "restored")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		started, err := sys.Client.Drill(ctx, "restored")
		if err != nil {
			t.Fatalf("drill: %v", err)
		}
		inc := sys.WaitIncident(t, "restored", 2*time.Minute, func(i api.Incident) bool { return i.ID == started.ID && system.Ended(i) })
		assertUndone(t, inc)
		if p := inc.Phase(api.PhasePrepare); p == nil || p.Outcome != api.OutcomeOK {
			t.Fatalf("cold prepare %+v: the restore must have happened for the abort to undo it", p)
		}
		svc := sys.Service(t, "restored")
		assertResolvesTo(t, sys, "restored", svc.PrimaryAddr, "primary restored\n")
		// No half state: neither the instance nor a staging import is left.
		for _, name := range strings.Fields(sys.Standby.Lxc(t, "list", "--format", "csv", "-c", "n")) {
			if strings.HasPrefix(name, "restored") {
				t.Errorf("instance %s left on the standby after the cold restore was undone", name)
			}
		}
		t.Logf("cold undone: %s", phaseLine(inc))
	})

	t.Run("check-config names an unknown remote", func(t *testing.T) {
		raw, err := os.ReadFile(sys.ConfigFile)
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := yaml.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		svc := cfg["services"].([]any)[0].(map[string]any)
		if svc["name"] != "moving" {
			t.Fatalf("services[0] is %v, want moving", svc["name"])
		}
		svc["strategy"].(map[string]any)["settings"].(map[string]any)["remote"] = "standy"
		typo, _ := yaml.Marshal(cfg)
		path := filepath.Join(t.TempDir(), "receiver.yml")
		if err := os.WriteFile(path, typo, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(testenv.Binary(t, "vcr-receiver"), "--config.file", path, "--check-config").CombinedOutput()
		ee, _ := err.(*exec.ExitError)
		if ee == nil || ee.ExitCode() != 1 || !strings.Contains(string(out), "services[0].strategy.settings") ||
			!strings.Contains(string(out), `LXD remote "standy" is not in lxd_remotes (known: bigger, standby)`) {
			t.Fatalf("--check-config with remote: standy: %v\n%s\nwant exit 1 naming the setting, the unknown remote and the known ones", err, out)
		}
	})
}

// assertUndone checks an incident whose DNS switch named refused: it ended
// failed with the switch's error, after an abort that went ok, and DNS was
// never changed.
func assertUndone(t *testing.T, inc api.Incident) {
	t.Helper()
	if inc.State != api.StateFailed || !strings.HasPrefix(inc.Error, "switch failed: ") || !strings.Contains(inc.Error, "NOTAUTH") {
		t.Fatalf("incident %s ended %s: %q; want failed with the refused switch", inc.ID, inc.State, inc.Error)
	}
	sw, ab := inc.Phase(api.PhaseSwitch), inc.Phase(api.PhaseAbort)
	if sw == nil || sw.Outcome != api.OutcomeFailed || ab == nil || ab.Outcome != api.OutcomeOK {
		t.Fatalf("incident %s: switch %+v, abort %+v; want the switch failed and the abort ok", inc.ID, sw, ab)
	}
	if inc.DNS != nil && inc.DNS.SwitchedAt != nil {
		t.Fatalf("incident %s records a DNS switch", inc.ID)
	}
}

// lxdStatus is an instance's status as `lxc info` reports it (RUNNING,
// FROZEN, STOPPED).
func lxdStatus(t *testing.T, x *testenv.LXD, name string) string {
	t.Helper()
	for _, line := range strings.Split(x.Lxc(t, "info", name), "\n") {
		if v, ok := strings.CutPrefix(line, "Status: "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("lxc info %s has no Status line", name)
	return ""
}
