package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/test/system"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// TestOperatorActions: what an operator does to a running system, with real
// libvirtd, Alertmanager, named, LXD and receiver, through vcrctl. Each
// scenario uses its own service.
func TestOperatorActions(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts libvirtd, LXD, named, Alertmanager, exporter and receiver")
	}
	sys := system.Start(t, system.Options{
		FastPath: true,
		Services: []system.ServiceSpec{
			{Name: "planned", Strategy: "warm"},
			{Name: "fenced", Strategy: "warm"},
			{Name: "drilled", Strategy: "warm"},
			{Name: "answering", Strategy: "warm", Unfenceable: true},
		},
	})

	t.Run("planned shutdown inside a maintenance window", func(t *testing.T) {
		svc := sys.Service(t, "planned")
		out, code := sys.Vcrctl(t, "", "--yes", "maintenance", "start", "planned", "--for", "10m", "--comment", "kernel update")
		if code != 0 {
			t.Fatalf("maintenance start: exit %d\n%s", code, out)
		}
		id := regexp.MustCompile(`maintenance window (mw-\S+):`).FindStringSubmatch(out)
		if id == nil || !strings.Contains(out, "silenced in "+sys.AM.URL) {
			t.Fatalf("maintenance start printed:\n%s", out)
		}

		// The planned work: a clean shutdown, which libvirt reports and the
		// fast path pushes like any stop.
		sys.ShutdownPrimary(t, "planned")
		// Alertmanager holds the shutdown's alert back: the window's silence.
		alert := waitAMAlert(t, sys.AM, 30*time.Second, map[string]string{"alertname": "VCRDomainShutoff", "domain": svc.Domain},
			func(a testenv.AlertSummary) bool { return a.Status.State == "suppressed" })
		// An Alertmanager without the silence (another site's, a second
		// pair) still delivers it: the receiver declines it itself.
		if code, body := postAlert(t, sys, alert.Labels); code != http.StatusOK {
			t.Fatalf("webhook = %d %s", code, body)
		}
		time.Sleep(3 * time.Second) // longer than a fast-path failover takes here
		if incs := sys.Incidents(t, "planned"); len(incs) != 0 {
			t.Fatalf("a planned shutdown inside a window opened %d incidents: %+v", len(incs), incs[0])
		}
		if got := sys.Resolve(t, "planned"); len(got) != 1 || got[0] != svc.PrimaryAddr {
			t.Fatalf("planned resolves to %v inside its window, want its primary [%s]", got, svc.PrimaryAddr)
		}
		ws, err := sys.Client.Maintenance(context.Background())
		if err != nil || len(ws) != 1 || !ws[0].Active || ws[0].DeclinedTotal < 1 || ws[0].Declined[0].Alertname != "VCRDomainShutoff" {
			t.Fatalf("window after the shutdown = %+v, %v; want it active with the declined alert", ws, err)
		}
		page := statusPage(t, sys)
		if !strings.Contains(page, `data-window="`+id[1]+`"`) || !strings.Contains(page, "maintenance until") {
			t.Errorf("the status page does not show the window and the service in maintenance")
		}

		// The window ends while the primary is still down: the silence
		// expires, Alertmanager delivers the alert, and the service fails
		// over as after any failure.
		out, code = sys.Vcrctl(t, "", "--yes", "maintenance", "stop", id[1])
		// Three silences: by service label, by domain UUID, by domain and host.
		if code != 0 || !strings.Contains(out, "expired 3 silence(s) in "+sys.AM.URL) {
			t.Fatalf("maintenance stop: exit %d\n%s", code, out)
		}
		inc := sys.WaitIncident(t, "planned", 90*time.Second, system.Ended)
		if inc.State != api.StateResolved || inc.Kind != api.KindFailover {
			t.Fatalf("after the window: incident %s %s %s: %s", inc.ID, inc.Kind, inc.State, inc.Error)
		}
		assertResolvesTo(t, sys, "planned", system.StandbyAddress, "planned\n")
	})

	t.Run("manual failover fences the primary", func(t *testing.T) {
		svc := sys.Service(t, "fenced")
		out, code := sys.Vcrctl(t, "y\n", "failover", "fenced", "--wait", "90s")
		if code != 0 {
			t.Fatalf("vcrctl failover: exit %d\n%s", code, out)
		}
		for _, want := range []string{"Fail fenced over to its standby?", "fence: destroy the primary " + svc.Domain + " through libvirt"} {
			if !strings.Contains(out, want) {
				t.Errorf("the confirmation lacks %q:\n%s", want, out)
			}
		}
		inc := latest(t, sys, "fenced")
		if inc.Kind != api.KindManualFailover || inc.State != api.StateResolved || inc.Phase(api.PhaseFence).Outcome != api.OutcomeOK {
			t.Fatalf("incident %+v", inc)
		}
		if st := sys.Driver.State(t, svc.Domain); st != 5 {
			t.Errorf("primary domain state %d after a manual failover, want 5 (shut off: fenced)", st)
		}
		assertResolvesTo(t, sys, "fenced", system.StandbyAddress, "fenced\n")
	})

	t.Run("drill leaves the healthy primary running", func(t *testing.T) {
		svc := sys.Service(t, "drilled")
		out, code := sys.Vcrctl(t, "", "--yes", "drill", "drilled", "--wait", "90s")
		if code != 0 {
			t.Fatalf("vcrctl drill: exit %d\n%s", code, out)
		}
		inc := latest(t, sys, "drilled")
		if inc.Kind != api.KindDrill || inc.Phase(api.PhaseFence).Outcome != api.OutcomeSkipped {
			t.Fatalf("drill incident %+v", inc)
		}
		if st := sys.Driver.State(t, svc.Domain); st != 1 {
			t.Errorf("primary domain state %d after a drill, want 1 (running)", st)
		}
		assertResolvesTo(t, sys, "drilled", system.StandbyAddress, "drilled\n")
	})

	t.Run("manual failover refuses while the primary answers unless forced", func(t *testing.T) {
		svc := sys.Service(t, "answering")
		out, code := sys.Vcrctl(t, "", "--yes", "failover", "answering", "--wait", "60s")
		if code != 1 || !strings.Contains(out, "ended needs-attention") || !strings.Contains(out, "vcrctl failover answering --force") {
			t.Fatalf("failover of an unfenceable primary that answers: exit %d\n%s", code, out)
		}
		assertResolvesTo(t, sys, "answering", svc.PrimaryAddr, "primary answering\n")
		inc := latest(t, sys, "answering")
		if out, code := sys.Vcrctl(t, "", "ack", inc.ID); code != 0 {
			t.Fatalf("ack: exit %d\n%s", code, out)
		}
		out, code = sys.Vcrctl(t, "", "--yes", "failover", "answering", "--force", "--wait", "90s")
		if code != 0 {
			t.Fatalf("forced failover: exit %d\n%s", code, out)
		}
		if inc := latest(t, sys, "answering"); !inc.Force || inc.State != api.StateResolved {
			t.Fatalf("forced incident %+v", inc)
		}
		assertResolvesTo(t, sys, "answering", system.StandbyAddress, "answering\n")
	})

	t.Run("cross-site form post is refused", func(t *testing.T) {
		before := len(sys.Incidents(t, "planned"))
		req, _ := http.NewRequest(http.MethodPost, sys.ReceiverURL+"/api/v1/services/planned/failback", strings.NewReader(""))
		req.SetBasicAuth(system.OperatorUser, system.OperatorPassword)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://attacker.example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || len(sys.Incidents(t, "planned")) != before {
			t.Fatalf("cross-site POST = %d, %d new incidents; want 403 and none", resp.StatusCode, len(sys.Incidents(t, "planned"))-before)
		}
	})
}

// postAlert delivers a firing alert to the receiver's webhook directly, as
// an Alertmanager that holds no silence for it would.
func postAlert(t *testing.T, sys *system.System, labels map[string]string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"version": "4", "status": "firing", "receiver": "vcr-receiver", "groupKey": "e2e",
		"alerts": []any{map[string]any{"status": "firing", "labels": labels, "startsAt": time.Now().UTC().Format(time.RFC3339Nano),
			"generatorURL": "http://other-alertmanager.example/"}}})
	req, _ := http.NewRequest(http.MethodPost, sys.ReceiverURL+"/api/v1/alerts", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+sys.ReceiverToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func statusPage(t *testing.T, sys *system.System) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, sys.ReceiverURL+"/", nil)
	req.SetBasicAuth(system.OperatorUser, system.OperatorPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// latest is the service's newest incident.
func latest(t *testing.T, sys *system.System, name string) api.Incident {
	t.Helper()
	incs := sys.Incidents(t, name)
	if len(incs) == 0 {
		t.Fatalf("%s has no incident", name)
	}
	return incs[0]
}
