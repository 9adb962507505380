package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/ui/uitest"
	"github.com/vcrcovery/vcrcovery/test/system"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// The fast-path scenarios share one system: each uses its own service, so they
// run in sequence without interfering, and the stack starts once.
func TestRecoveryScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts libvirtd, LXD, named, Alertmanager, exporter and receiver")
	}
	sys := system.Start(t, system.Options{
		FastPath: true,
		ScaleUp:  true,
		Services: []system.ServiceSpec{
			{Name: "web", Strategy: "warm"},
			{Name: "shop", Strategy: "cold"},
			{Name: "flappy", Strategy: "warm", FlapMinInterval: 10 * time.Minute},
			{Name: "guarded", Strategy: "warm", Unfenceable: true},
			{Name: "crashy", Strategy: "warm"},
			{Name: "homing", Strategy: "warm"},
			{Name: "viewed", Strategy: "cold"},
		},
	})

	top := t // processes restarted in a subtest must outlive it
	t.Run("warm failover", func(t *testing.T) {
		failover(t, sys, "web", system.StandbyAddress, "web\n")
	})
	t.Run("cold failover", func(t *testing.T) {
		failover(t, sys, "shop", system.StandbyAddress, "shop\n")
	})
	t.Run("scale-up", func(t *testing.T) {
		// The standby here is an LXD daemon on this host, not a libvirt domain,
		// so the rule's input series (the standby VM's domain CPU) don't exist:
		// post the alert the rule fires, as Prometheus would.
		sys.AM.PostAlert(t, map[string]string{"alertname": "VCRStandbyOverloaded", "role": "standby",
			"domain": "standby-vm", "host": "hv-standby", "cloud": "lab", "severity": "warning"},
			map[string]string{"summary": "standby overloaded (e2e)"}, time.Now(), time.Time{})
		inc := sys.WaitIncident(t, "web", time.Minute, func(i api.Incident) bool {
			return i.Kind == api.KindScaleUp && system.Ended(i)
		})
		if inc.State != api.StateResolved {
			t.Fatalf("scale-up incident %s ended %s: %s", inc.ID, inc.State, inc.Error)
		}
		assertResolvesTo(t, sys, "web", system.BiggerAddress, "web\n")
		if inc.Endpoint == nil || inc.Endpoint.Details["migration"] == "" {
			t.Errorf("scale-up incident does not record how it migrated: %+v", inc.Endpoint)
		}
		t.Logf("scale-up: %s", phaseLine(inc))
		// The source copy goes only after the switch.
		if out, err := sys.Standby.LxcErr(t, "info", "web"); err == nil {
			t.Errorf("source container still on the standby after a finished scale-up:\n%s", out)
		}
	})
	t.Run("flapping VM", func(t *testing.T) {
		// Policy: the first failure fails over once; the VM coming back and
		// dying again within flap.min_interval does not fail over again.
		failover(t, sys, "flappy", system.StandbyAddress, "flappy\n")
		sys.RestorePrimary(t, "flappy")
		// Alertmanager sends a group's change at most once per group_interval
		// (1 s here): die again after it, or the new failure is never delivered.
		time.Sleep(2500 * time.Millisecond)
		sys.FailPrimary(t, "flappy")
		inc := sys.WaitIncident(t, "flappy", 30*time.Second, func(i api.Incident) bool {
			return i.State == api.StateNeedsAttention
		})
		if !strings.Contains(inc.Error, "flap") {
			t.Errorf("flap incident error %q does not name the flap policy", inc.Error)
		}
		if p := inc.Phase(api.PhasePrepare); p != nil && p.Outcome != api.OutcomeSkipped {
			t.Errorf("the second failure ran prepare (%s); the flap policy must stop it", p.Outcome)
		}
		assertResolvesTo(t, sys, "flappy", system.StandbyAddress, "flappy\n")
	})
	t.Run("primary still answers and cannot be fenced", func(t *testing.T) {
		svc := sys.Service(t, "guarded")
		// The domain dies in libvirt's view, but the service still answers
		// (a partition, not a crash) and its host cannot be reached to fence it.
		sys.Driver.Destroy(t, svc.Domain)
		inc := sys.WaitIncident(t, "guarded", time.Minute, system.Ended)
		if inc.State != api.StateNeedsAttention {
			t.Fatalf("incident %s is %s, want needs-attention (split-brain guard): %s", inc.ID, inc.State, inc.Error)
		}
		if p := inc.Phase(api.PhaseSwitch); p != nil && p.Outcome == api.OutcomeOK {
			t.Fatalf("the guard let the switch run")
		}
		assertResolvesTo(t, sys, "guarded", svc.PrimaryAddr, "primary guarded\n")
		t.Logf("guard: %s", inc.Error)
	})
	t.Run("receiver killed mid-recovery", func(t *testing.T) {
		sys.FailPrimary(t, "crashy")
		// Kill the receiver as soon as the incident exists, before it can finish.
		inc := sys.WaitIncident(t, "crashy", 30*time.Second, func(api.Incident) bool { return true })
		sys.ReceiverProc.Kill()
		t.Logf("killed the receiver with incident %s in state %s", inc.ID, inc.State)
		sys.StartReceiverProcess(top)
		done := sys.WaitIncident(t, "crashy", time.Minute, system.Ended)
		if done.ID != inc.ID {
			t.Fatalf("restart opened incident %s instead of resuming %s", done.ID, inc.ID)
		}
		if done.State != api.StateResolved {
			t.Fatalf("resumed incident ended %s: %s", done.State, done.Error)
		}
		assertOnce(t, sys, "crashy", done)
		assertResolvesTo(t, sys, "crashy", system.StandbyAddress, "crashy\n")
	})
	t.Run("status page during a failover", func(t *testing.T) {
		bin := uitest.Chromium(t)
		sys.FailPrimary(t, "viewed")
		inc := sys.WaitIncident(t, "viewed", 30*time.Second, func(api.Incident) bool { return true })
		// The page loads while the recovery runs (or just after: a cold
		// restore takes about half a second, a browser start longer).
		dom := uitest.DumpDOM(t, bin, sys.StatusPageURL())
		for _, want := range []string{`data-incident="` + inc.ID + `"`, `class="timeline"`, `data-phase="prepare"`, "viewed"} {
			if !strings.Contains(dom, want) {
				t.Errorf("status page lacks %s", want)
			}
		}
		done := sys.WaitIncident(t, "viewed", time.Minute, func(i api.Incident) bool { return i.ID == inc.ID && system.Ended(i) })
		if done.State != api.StateResolved {
			t.Fatalf("incident %s ended %s: %s", done.ID, done.State, done.Error)
		}
		// Readable without JavaScript: the timeline is in the served HTML.
		noJS, _ := uitest.LoadWithoutScripts(t, bin, sys.StatusPageURL())
		if !strings.Contains(noJS, `data-incident="`+inc.ID+`"`) || !strings.Contains(noJS, `data-phase="switch" data-outcome="ok"`) {
			t.Errorf("status page without JavaScript lacks the finished timeline of %s", inc.ID)
		}
		shot := filepath.Join(uitest.ArtifactDir(t, "e2e"), "status-page-failover.png")
		uitest.Screenshot(t, bin, sys.StatusPageURL(), shot, 1280, 1400)
		t.Logf("screenshot: %s", shot)
	})
	t.Run("failback", func(t *testing.T) {
		failover(t, sys, "homing", system.StandbyAddress, "homing\n")
		sys.RestorePrimary(t, "homing")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		started, err := sys.Client.Failback(ctx, "homing")
		if err != nil {
			t.Fatalf("failback: %v", err)
		}
		inc := sys.WaitIncident(t, "homing", time.Minute, func(i api.Incident) bool { return i.ID == started.ID && system.Ended(i) })
		if inc.State != api.StateResolved || inc.Kind != api.KindFailback {
			t.Fatalf("failback incident: %s %s %s", inc.Kind, inc.State, inc.Error)
		}
		svc := sys.Service(t, "homing")
		assertResolvesTo(t, sys, "homing", svc.PrimaryAddr, "primary homing\n")
	})
}

// failover kills a service's primary and checks the whole recovery: one
// resolved incident with every phase ok, the name pointing at the standby, the
// service answering through it.
func failover(t *testing.T, sys *system.System, name, wantAddr, wantBody string) api.Incident {
	t.Helper()
	before := len(sys.Incidents(t, name))
	destroyed := sys.FailPrimary(t, name)
	inc := sys.WaitIncident(t, name, 90*time.Second, func(i api.Incident) bool {
		return i.Kind == api.KindFailover && system.Ended(i) && i.OpenedAt.After(destroyed.Add(-time.Second))
	})
	if inc.State != api.StateResolved {
		t.Fatalf("incident %s for %s ended %s: %s", inc.ID, name, inc.State, inc.Error)
	}
	for _, ph := range []string{api.PhaseFence, api.PhasePrepare, api.PhaseVerify, api.PhaseSwitch} {
		p := inc.Phase(ph)
		if p == nil || p.Outcome != api.OutcomeOK {
			t.Errorf("phase %s of %s: %+v", ph, inc.ID, p)
		}
	}
	assertResolvesTo(t, sys, name, wantAddr, wantBody)
	if n := len(sys.Incidents(t, name)); n != before+1 {
		t.Errorf("%d new incidents for %s, want exactly 1", n-before, name)
	}
	assertOnce(t, sys, name, inc)
	t.Logf("%s: %s (destroy to closed %s)", name, phaseLine(inc), inc.ClosedAt.Sub(destroyed).Round(time.Millisecond))
	return inc
}

// assertOnce checks that nothing ran twice: the switch succeeded on its first
// attempt and the strategy prepared once.
func assertOnce(t *testing.T, sys *system.System, name string, inc api.Incident) {
	t.Helper()
	if p := inc.Phase(api.PhaseSwitch); p == nil || p.Attempts != 1 {
		t.Errorf("%s: switch phase %+v, want exactly one attempt", name, p)
	}
	open := 0
	for _, i := range sys.Incidents(t, name) {
		if i.State.Running() {
			open++
		}
	}
	if open != 0 {
		t.Errorf("%s: %d incidents still running after %s ended", name, open, inc.ID)
	}
}

func assertResolvesTo(t *testing.T, sys *system.System, name, addr, body string) {
	t.Helper()
	got := sys.Resolve(t, name)
	if len(got) != 1 || got[0] != addr {
		t.Fatalf("%s resolves to %v, want [%s]", name, got, addr)
	}
	page, err := sys.Get(t, name)
	if err != nil || page != body {
		t.Fatalf("GET through %s: %q, %v; want %q", name, page, err, body)
	}
}

func phaseLine(inc api.Incident) string {
	var parts []string
	for _, p := range inc.Phases {
		parts = append(parts, p.Name+"="+time.Duration(p.DurationSeconds*float64(time.Second)).Round(time.Millisecond).String())
	}
	return strings.Join(parts, " ")
}

// The rule-path scenarios: no fast path, Prometheus evaluates the project's
// rules every second (with `for:` shortened), and whole hosts go away. Two
// hosts in one cloud: losing one is a host failure, losing both is the cloud.
func TestHostAndCloudLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts the whole stack with Prometheus")
	}
	sys := system.Start(t, system.Options{
		RulePath: true,
		// 1m → 4s for VCRHostHeartbeatLost, 30s → 2s for VCRCloudDown.
		RuleForDivisor: 15,
		GracePeriod:    3 * time.Second,
		Services: []system.ServiceSpec{
			{Name: "alpha", Strategy: "warm", Unfenceable: true, Host: "hv-a"},
			{Name: "beta", Strategy: "warm", Unfenceable: true, Host: "hv-b"},
		},
	})
	deadline := time.Now().Add(30 * time.Second)
	for len(sys.Prom.Query(t, `up{job="vcr-exporter"} == 1`)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never scraped both exporters")
		}
		time.Sleep(200 * time.Millisecond)
	}

	// hv-a dies: its exporter stops answering, its service stops, and libvirt
	// on it can't be reached to fence.
	lose := func(host, service string) time.Time {
		sys.Service(t, service).StopListener()
		sys.Exporters[host].Kill()
		return time.Now()
	}
	recovered := func(name, wantReason string, lost time.Time) {
		t.Helper()
		inc := sys.WaitIncident(t, name, 2*time.Minute, system.Ended)
		if inc.State != api.StateResolved {
			t.Fatalf("%s: incident %s ended %s: %s", name, inc.ID, inc.State, inc.Error)
		}
		if inc.Reason != wantReason {
			t.Errorf("%s: incident opened by %s, want %s", name, inc.Reason, wantReason)
		}
		fence := inc.Phase(api.PhaseFence)
		if fence == nil || fence.DurationSeconds < sys.Opts.GracePeriod.Seconds() {
			t.Errorf("%s: fence phase %+v did not wait out the %s grace", name, fence, sys.Opts.GracePeriod)
		}
		if n := len(sys.Incidents(t, name)); n != 1 {
			t.Errorf("%s: %d incidents, want exactly one (no alert storm)", name, n)
		}
		assertResolvesTo(t, sys, name, system.StandbyAddress, name+"\n")
		t.Logf("%s: %s, recovered %s after its host was lost", name, inc.Reason, inc.ClosedAt.Sub(lost).Round(time.Millisecond))
	}

	t.Run("host heartbeat lost", func(t *testing.T) {
		lost := lose("hv-a", "alpha")
		recovered("alpha", "VCRHostHeartbeatLost", lost)
		if n := len(sys.Incidents(t, "beta")); n != 0 {
			t.Errorf("beta, on the healthy host, has %d incidents", n)
		}
		assertResolvesTo(t, sys, "beta", sys.Service(t, "beta").PrimaryAddr, "primary beta\n")
	})
	t.Run("cloud down", func(t *testing.T) {
		lost := lose("hv-b", "beta")
		recovered("beta", "VCRCloudDown", lost)
		// With the cloud down, Alertmanager holds the hosts' own alerts back.
		alerts := sys.AM.Alerts(t)
		if !hasAlert(alerts, "VCRCloudDown") {
			t.Fatalf("no VCRCloudDown in Alertmanager: %+v", alerts)
		}
		for _, a := range alerts {
			if a.Labels["alertname"] == "VCRHostHeartbeatLost" && a.Status.State != "suppressed" {
				t.Errorf("VCRHostHeartbeatLost for %s is not inhibited by VCRCloudDown: %s", a.Labels["host"], a.Status.State)
			}
		}
		if n := len(sys.Incidents(t, "alpha")); n != 1 {
			t.Errorf("alpha has %d incidents after the cloud went down, want still 1", n)
		}
	})
}

func hasAlert(alerts []testenv.AlertSummary, name string) bool {
	for _, a := range alerts {
		if a.Labels["alertname"] == name {
			return true
		}
	}
	return false
}
