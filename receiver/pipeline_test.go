package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
	"github.com/vcrcovery/vcrcovery/receiver/pipeline"
)

func openIncident(t *testing.T, h *harness, labels map[string]string) string {
	t.Helper()
	code, body := h.post(payload("firing", labels))
	var ar api.AlertsResponse
	if err := json.Unmarshal([]byte(body), &ar); err != nil || code != 200 || len(ar.Incidents) != 1 {
		t.Fatalf("post: %d %s", code, body)
	}
	return ar.Incidents[0]
}

func TestFailoverHappyPath(t *testing.T) {
	h := newHarness(t, testConfig)
	id := openIncident(t, h, shutoffWeb)
	inc := h.waitState(id, api.StateResolved)
	var names []string
	for _, p := range inc.Phases {
		names = append(names, p.Name+"="+p.Outcome)
	}
	if got := strings.Join(names, " "); got != "detect=ok fence=ok prepare=ok verify=ok switch=ok finalize=ok" {
		t.Fatalf("phases: %s", got)
	}
	if inc.DNS == nil || inc.DNS.SwitchedAt == nil || inc.DNS.After[0] != "127.0.0.2" || inc.Endpoint.Port != 8080 || inc.ClosedAt == nil {
		t.Fatalf("incident = %+v", inc)
	}
	if p, f := h.strat.counts(); p != 1 || f != 1 || h.dns.count() != 1 || h.fencer.calls != 1 {
		t.Fatalf("prepare %d finalize %d replace %d fence %d, want 1 each", p, f, h.dns.count(), h.fencer.calls)
	}
	var shared map[string]any
	if json.Unmarshal(h.strat.lastReq.Shared, &shared) != nil || string(h.strat.lastReq.Settings) != `{"container":"web"}` || h.strat.lastReq.Reason != "VCRDomainShutoff" {
		t.Fatalf("prepare request = %+v", h.strat.lastReq)
	}
	if !strings.Contains(strings.Join(inc.Phase(api.PhasePrepare).Messages, "|"), "container started") {
		t.Errorf("progress not recorded: %v", inc.Phase(api.PhasePrepare).Messages)
	}
	h.r.Wait()
	if got := testutil.ToFloat64(h.r.m.recoveries.WithLabelValues("web", "warm", "resolved")); got != 1 {
		t.Errorf("vcr_recoveries_total = %v", got)
	}
	if got := testutil.ToFloat64(h.r.m.incidentsOpen); got != 0 {
		t.Errorf("vcr_incidents_open = %v", got)
	}
}

func TestDuplicateStormOneRecovery(t *testing.T) {
	h := newHarness(t, testConfig)
	h.strat.block = make(chan struct{})
	fast := map[string]string{"alertname": "VCRDomainShutoff", "domain": "web01", "uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f", "host": "hv1", "source": "fast-path", "_fp": "fast1"}
	rule := map[string]string{"alertname": "VCRDomainShutoff", "domain": "web01", "uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f", "host": "hv1", "_fp": "rule1", "_gen": "http://prometheus:9090/graph?g0.expr=x"}
	bodies := []string{payload("firing", fast), payload("firing", rule)}
	const n = 1000
	var wg sync.WaitGroup
	ids := make([]string, n)
	sem := make(chan struct{}, 64) // many in flight, without exhausting ports
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			code, body := h.post(bodies[i%2])
			var ar api.AlertsResponse
			if code != 200 || json.Unmarshal([]byte(body), &ar) != nil || len(ar.Incidents) != 1 {
				t.Errorf("post %d: %d %s", i, code, body)
				return
			}
			ids[i] = ar.Incidents[0]
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("two incidents: %s and %s", ids[0], id)
		}
	}
	close(h.strat.block)
	inc := h.waitState(ids[0], api.StateResolved)
	if len(h.incidents()) != 1 {
		t.Fatalf("%d incidents, want 1", len(h.incidents()))
	}
	if p, _ := h.strat.counts(); p != 1 || h.dns.count() != 1 {
		t.Fatalf("prepare called %d times, DNS switched %d times; want once each", p, h.dns.count())
	}
	if inc.Alerts.Count != n || inc.Alerts.BySource["fast-path"] != n/2 || inc.Alerts.BySource["prometheus:9090"] != n/2 {
		t.Fatalf("alert summary = %+v", inc.Alerts)
	}
	alerts, _ := h.j.Alerts(context.Background(), 0)
	if len(alerts) != n {
		t.Fatalf("journaled %d alerts, want %d", len(alerts), n)
	}
}

func TestResolvedNeverCancels(t *testing.T) {
	h := newHarness(t, testConfig)
	h.strat.block = make(chan struct{})
	h.strat.started = make(chan struct{})
	started := h.strat.started
	id := openIncident(t, h, shutoffWeb)
	<-started
	code, body := h.post(payload("resolved", shutoffWeb))
	if code != 200 || !strings.Contains(body, id) {
		t.Fatalf("resolved post: %d %s", code, body)
	}
	close(h.strat.block)
	inc := h.waitState(id, api.StateResolved)
	if inc.Alerts.Resolved != 1 || h.dns.count() != 1 {
		t.Fatalf("resolved alerts %d, switches %d; want 1, 1", inc.Alerts.Resolved, h.dns.count())
	}
}

func TestPhaseRetriesThenFails(t *testing.T) {
	h := newHarness(t, testConfig)
	h.strat.err = errors.New("container web does not exist on standby")
	id := openIncident(t, h, shutoffWeb)
	inc := h.waitState(id, api.StateFailed)
	ph := inc.Phase(api.PhasePrepare)
	if ph.Attempts != 3 || ph.Outcome != api.OutcomeFailed || !strings.Contains(inc.Error, "prepare failed: strategy warm: container web does not exist") {
		t.Fatalf("prepare phase = %+v, error %q", ph, inc.Error)
	}
	if h.dns.count() != 0 {
		t.Fatal("DNS switched after a failed prepare")
	}
	h.clock.mu.Lock()
	slept := fmt.Sprint(h.clock.slept)
	h.clock.mu.Unlock()
	if slept != "[10ms 20ms]" {
		t.Errorf("backoff pauses = %s, want [10ms 20ms]", slept)
	}
	// A failed incident keeps the service: new alerts join it...
	if again := openIncident(t, h, shutoffWeb); again != id {
		t.Fatalf("new alert opened %s instead of joining failed %s", again, id)
	}
	// ...until an operator acknowledges it.
	h.r.Wait()
	if _, err := h.r.Acknowledge(context.Background(), id); err != nil {
		t.Fatal(statusOf(err), err)
	}
	h.strat.mu.Lock()
	h.strat.err = nil
	h.strat.mu.Unlock()
	next := openIncident(t, h, shutoffWeb)
	if next == id {
		t.Fatal("acknowledged incident still holds the service")
	}
	h.waitState(next, api.StateResolved)
}

func TestSplitBrainGuard(t *testing.T) {
	h := newHarness(t, testConfig)
	h.fencer.err = fmt.Errorf("dial: %w", pipeline.ErrHostUnreachable)
	h.prober.primaryAnswers.Store(true)
	id := openIncident(t, h, shutoffWeb)
	inc := h.waitState(id, api.StateNeedsAttention)
	if p, _ := h.strat.counts(); p != 0 || h.dns.count() != 0 {
		t.Fatalf("prepare %d, switch %d after the guard tripped; want none", p, h.dns.count())
	}
	if !strings.Contains(inc.Error, "still answers on 127.0.0.10:8080") {
		t.Fatalf("error = %q", inc.Error)
	}
	h.clock.mu.Lock()
	waited := h.clock.slept
	h.clock.mu.Unlock()
	if len(waited) != 1 || waited[0] != time.Second {
		t.Errorf("grace period waits = %v, want [1s]", waited)
	}

	// Opting out switches anyway.
	h2 := newHarness(t, strings.Replace(testConfig, "fencing: {grace_period: 1s}", "fencing: {grace_period: 1s, allow_switch_while_primary_answers: true}", 1))
	h2.fencer.err = h.fencer.err
	h2.prober.primaryAnswers.Store(true)
	h2.waitState(openIncident(t, h2, shutoffWeb), api.StateResolved)
	if h2.dns.count() != 1 {
		t.Fatalf("opt-out: %d switches, want 1", h2.dns.count())
	}

	// Unreachable host, silent primary: safe to switch after the grace period.
	h3 := newHarness(t, testConfig)
	h3.fencer.err = h.fencer.err
	h3.waitState(openIncident(t, h3, shutoffWeb), api.StateResolved)
}

// TestResumeAfterRestart journals incidents as a killed receiver would
// leave them and checks that a new receiver finishes them without a second
// switch.
func TestResumeAfterRestart(t *testing.T) {
	cases := []struct {
		name         string
		state        api.State
		done         []string // phases completed before the "crash"
		switchSent   bool     // SwitchStartedAt journaled
		dnsHasTarget bool     // the UPDATE had reached the server
		wantPrepare  int
		wantReplace  int
		wantFinalize int
	}{
		{"during prepare", api.StatePreparing, []string{"fence"}, false, false, 1, 1, 1},
		{"during verify", api.StateVerifying, []string{"fence", "prepare"}, false, false, 0, 1, 1},
		{"switch sent and applied", api.StateSwitching, []string{"fence", "prepare", "verify"}, true, true, 0, 0, 1},
		{"switch sent, lost", api.StateSwitching, []string{"fence", "prepare", "verify"}, true, false, 0, 1, 1},
		{"during finalize", api.StateFinalizing, []string{"fence", "prepare", "verify", "switch"}, true, true, 0, 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testConfig)
			h.stop()
			now := time.Now()
			inc := api.Incident{ID: "crashed-1", Service: "web", Strategy: "warm", State: tc.state, Reason: "VCRDomainShutoff",
				Kind: api.KindFailover, OpenedAt: now, Revision: 7,
				Phases:   []api.Phase{{Name: "detect", Outcome: api.OutcomeOK}},
				Endpoint: &api.Endpoint{Address: "127.0.0.2", Port: 8080}}
			for _, p := range tc.done {
				inc.Phases = append(inc.Phases, api.Phase{Name: p, Outcome: api.OutcomeOK, StartedAt: now, EndedAt: &now})
			}
			running := map[api.State]string{api.StatePreparing: "prepare", api.StateVerifying: "verify", api.StateSwitching: "switch", api.StateFinalizing: "finalize"}[tc.state]
			inc.Phases = append(inc.Phases, api.Phase{Name: running, Outcome: api.OutcomeRunning, StartedAt: now, Attempts: 1})
			if tc.switchSent {
				inc.DNS = &api.DNSChange{Name: "web.example.test.", SwitchStartedAt: &now}
				if tc.state == api.StateFinalizing {
					inc.DNS.SwitchedAt = &now
				}
			}
			if tc.dnsHasTarget {
				h.dns.records = map[string][]netip.Addr{"web.example.test.": {netip.MustParseAddr("127.0.0.2")}}
			}
			j, err := journal.OpenBolt(h.path)
			if err != nil {
				t.Fatal(err)
			}
			if err := j.Commit(context.Background(), journal.Batch{Incidents: []api.Incident{inc}}); err != nil {
				t.Fatal(err)
			}
			j.Close()

			h.start()
			got := h.waitState("crashed-1", api.StateResolved)
			h.r.Wait()
			p, f := h.strat.counts()
			if p != tc.wantPrepare || h.dns.count() != tc.wantReplace || f != tc.wantFinalize || h.fencer.calls != 0 {
				t.Fatalf("prepare %d replace %d finalize %d fence %d; want %d %d %d 0",
					p, h.dns.count(), f, h.fencer.calls, tc.wantPrepare, tc.wantReplace, tc.wantFinalize)
			}
			if ph := got.Phase(running); ph.Outcome != api.OutcomeOK || ph.Attempts != 2 {
				t.Errorf("resumed phase %s = %+v; want ok after 2 attempts", running, ph)
			}
			if got.DNS == nil || got.DNS.SwitchedAt == nil {
				t.Fatalf("switch not marked done: %+v", got.DNS)
			}
		})
	}
}

// manual runs Manual and returns the status the HTTP API would answer.
func manual(h *harness, service string, kind api.Kind) (api.Incident, int, error) {
	return manualRun(h, service, kind, false)
}

func manualRun(h *harness, service string, kind api.Kind, force bool) (api.Incident, int, error) {
	inc, err := h.r.Manual(context.Background(), service, kind, force)
	if err != nil {
		return inc, statusOf(err), err
	}
	return inc, http.StatusAccepted, nil
}

func TestManualDrillAndFailback(t *testing.T) {
	h := newHarness(t, testConfig)
	inc, code, err := manual(h, "web", api.KindDrill)
	if err != nil {
		t.Fatal(code, err)
	}
	if _, code, _ := manual(h, "web", api.KindFailback); code != 409 {
		t.Fatalf("second manual run while one is open: %d, want 409", code)
	}
	got := h.waitState(inc.ID, api.StateResolved)
	if got.Phase(api.PhaseFence).Outcome != api.OutcomeSkipped || h.fencer.calls != 0 {
		t.Fatal("a drill fenced the healthy primary")
	}
	h.r.Wait()
	if _, code, _ := manual(h, "web", api.KindDrill); code != 409 {
		t.Fatalf("drill while on standby: %d, want 409", code)
	}
	back, _, err := manual(h, "web", api.KindFailback)
	if err != nil {
		t.Fatal(err)
	}
	got = h.waitState(back.ID, api.StateResolved)
	if got.DNS.After[0] != "127.0.0.10" || got.Phase(api.PhaseFinalize).Outcome != api.OutcomeSkipped {
		t.Fatalf("failback = %+v", got)
	}
	h.r.Wait()
	if p, _ := h.strat.counts(); p != 1 {
		t.Fatalf("failback called prepare: %d prepares, want 1", p)
	}
	if s := h.r.Services()[1]; s.Location != api.LocationPrimary || s.CurrentAddress != "127.0.0.10" {
		t.Fatalf("after failback: %+v", s)
	}
	if _, code, _ := manual(h, "nope", api.KindDrill); code != 404 {
		t.Fatalf("unknown service: %d", code)
	}
}

func TestAPIOverHTTP(t *testing.T) {
	h := newHarness(t, testConfig)
	c := api.New(h.srv.URL, "")
	ctx := context.Background()
	inc, err := c.Drill(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}
	h.waitState(inc.ID, api.StateResolved)
	h.r.Wait()
	got, err := c.Incident(ctx, inc.ID)
	if err != nil || got.Kind != api.KindDrill || got.State != api.StateResolved {
		t.Fatalf("Incident = %+v, %v", got, err)
	}
	list, err := c.Incidents(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("Incidents = %v, %v", list, err)
	}
	svcs, err := c.Services(ctx)
	if err != nil || len(svcs) != 2 || svcs[0].Name != "db" || svcs[0].Location != api.LocationStandby {
		t.Fatalf("Services = %+v, %v", svcs, err)
	}
	if _, err := c.Acknowledge(ctx, inc.ID); err != nil {
		t.Fatal(err)
	}
	var se *api.StatusError
	if _, err := c.Incident(ctx, "nope"); !errors.As(err, &se) || se.Code != 404 {
		t.Fatalf("missing incident: %v", err)
	}
}

// TestFlapWhileOnStandby: the old primary comes back and fails again (a new
// alert start time) within the flap interval while the service still runs
// on the standby; repeats of the first failure stay quiet.
func TestFlapWhileOnStandby(t *testing.T) {
	h := newHarness(t, strings.Replace(testConfig, "fencing: {grace_period: 1s}", "fencing: {grace_period: 1s}\n    flap: {min_interval: 1h}", 1))
	id := openIncident(t, h, shutoffWeb)
	h.waitState(id, api.StateResolved)
	h.r.Wait()
	// A repeat of the same failure (started before the recovery ended).
	old := strings.Replace(payload("firing", shutoffWeb), `"startsAt":"`, `"startsAt":"2000-01-01T00:00:00Z","x":"`, 1)
	if code, body := h.post(old); code != 200 || len(h.incidents()) != 1 {
		t.Fatalf("repeat of the first failure: %d %s, %d incidents", code, body, len(h.incidents()))
	}
	second := maps.Clone(shutoffWeb)
	second["_start"] = time.Now().Format(time.RFC3339Nano) // after the recovery ended
	again := openIncident(t, h, second)
	inc := h.waitState(again, api.StateNeedsAttention)
	if !strings.Contains(inc.Error, "flap.min_interval") || inc.Phase(api.PhasePrepare) != nil {
		t.Fatalf("flap incident = %+v", inc)
	}
	if p, _ := h.strat.counts(); p != 1 {
		t.Fatalf("%d prepares, want 1", p)
	}
}

func TestFlapPolicy(t *testing.T) {
	h := newHarness(t, strings.Replace(testConfig, "fencing: {grace_period: 1s}", "fencing: {grace_period: 1s}\n    flap: {min_interval: 1h}", 1))
	id := openIncident(t, h, shutoffWeb)
	h.waitState(id, api.StateResolved)
	h.r.Wait()
	back, _, _ := manual(h, "web", api.KindFailback)
	h.waitState(back.ID, api.StateResolved)
	h.r.Wait()
	again := openIncident(t, h, shutoffWeb)
	inc := h.waitState(again, api.StateNeedsAttention)
	if !strings.Contains(inc.Error, "flap.min_interval") {
		t.Fatalf("error = %q", inc.Error)
	}
	if p, _ := h.strat.counts(); p != 1 {
		t.Fatalf("%d prepares; the flapping failure must not run a second one", p)
	}
}

// TestManualFailoverFences: an operator's failover fences the primary,
// unlike a drill; while an unfenced primary still answers it stops in
// needs-attention and says how to force it; forced, it switches.
func TestManualFailoverFences(t *testing.T) {
	h := newHarness(t, testConfig)
	inc, code, err := manual(h, "web", api.KindManualFailover)
	if err != nil {
		t.Fatal(code, err)
	}
	got := h.waitState(inc.ID, api.StateResolved)
	if got.Kind != api.KindManualFailover || got.Phase(api.PhaseFence).Outcome != api.OutcomeOK || h.fencer.calls != 1 || h.dns.count() != 1 {
		t.Fatalf("manual failover: kind %s, fence %+v, %d fence calls, %d switches; want the primary fenced and one switch",
			got.Kind, got.Phase(api.PhaseFence), h.fencer.calls, h.dns.count())
	}

	// The primary's host cannot be reached and the primary still answers.
	h2 := newHarness(t, testConfig)
	h2.fencer.err = fmt.Errorf("dial: %w", pipeline.ErrHostUnreachable)
	h2.prober.primaryAnswers.Store(true)
	inc, _, err = manual(h2, "web", api.KindManualFailover)
	if err != nil {
		t.Fatal(err)
	}
	got = h2.waitState(inc.ID, api.StateNeedsAttention)
	if p, _ := h2.strat.counts(); p != 0 || h2.dns.count() != 0 {
		t.Fatalf("prepare %d, switch %d while the primary answers; want none", p, h2.dns.count())
	}
	if !strings.Contains(got.Error, "vcrctl failover web --force") {
		t.Errorf("needs-attention error %q does not say how to force the failover", got.Error)
	}
	h2.r.Wait()
	if _, err := h2.r.Acknowledge(context.Background(), inc.ID); err != nil {
		t.Fatal(err)
	}
	if _, code, _ := manualRun(h2, "web", api.KindDrill, true); code != http.StatusBadRequest {
		t.Errorf("a forced drill = %d, want 400", code)
	}
	inc, _, err = manualRun(h2, "web", api.KindManualFailover, true)
	if err != nil {
		t.Fatal(err)
	}
	got = h2.waitState(inc.ID, api.StateResolved)
	if !got.Force || h2.dns.count() != 1 || !strings.Contains(strings.Join(got.Phase(api.PhaseFence).Messages, "|"), "forced") {
		t.Fatalf("forced failover: force %v, %d switches, fence %+v", got.Force, h2.dns.count(), got.Phase(api.PhaseFence))
	}
}

// TestPlansNameWhatRuns: the plan the API shows before a run lists the
// phases the run records as run, for each kind an operator can start.
func TestPlansNameWhatRuns(t *testing.T) {
	for _, kind := range []api.Kind{api.KindManualFailover, api.KindDrill} {
		h := newHarness(t, testConfig)
		plan, err := h.r.Plan("web", kind, false)
		if err != nil {
			t.Fatal(err)
		}
		inc, _, err := manual(h, "web", kind)
		if err != nil {
			t.Fatal(err)
		}
		got := h.waitState(inc.ID, api.StateResolved)
		var ran []string
		for _, p := range got.Phases {
			if p.Name != api.PhaseDetect && p.Outcome != api.OutcomeSkipped {
				ran = append(ran, p.Name)
			}
		}
		if strings.Join(plan.Running(), " ") != strings.Join(ran, " ") {
			t.Errorf("%s: plan names %v, the run ran %v", kind, plan.Running(), ran)
		}
	}
	h := newHarness(t, testConfig)
	svcs := h.r.Services()
	if len(svcs[1].Actions) != 2 || svcs[1].Actions[0].Kind != api.KindManualFailover || svcs[1].Actions[1].Kind != api.KindDrill {
		t.Fatalf("web on its primary offers %+v, want a manual failover and a drill", svcs[1].Actions)
	}
	if fence := svcs[1].Actions[1].Steps[0]; fence.Runs || !strings.Contains(fence.Does, "stays up") {
		t.Errorf("the drill's plan says fence %+v; a drill does not fence", fence)
	}
	if fence := svcs[1].Actions[0].Steps[0]; !fence.Runs || !strings.Contains(fence.Does, "destroy the primary web01 through libvirt on hv1") {
		t.Errorf("the manual failover's plan says fence %+v", fence)
	}
}

// TestRetryResumesTheFailedPhase: an operator's retry runs the failed phase
// again and what follows it; completed phases are not rerun, and a switch
// that reached DNS is not sent again. The strategy here has no Abort (a
// protocol-1 plugin), so prepare stays done; a recovery whose prepare was
// undone resumes from prepare (TestRetryAfterUndo).
func TestRetryResumesTheFailedPhase(t *testing.T) {
	noAbort := fmt.Errorf("strategy warm: Abort: %w", &sdk.UnsupportedError{Call: "Abort", Version: 1})
	h := newHarness(t, testConfig)
	h.strat.abortErr = noAbort
	h.dns.err = errors.New("no answer from 127.0.0.1:5353")
	id := openIncident(t, h, shutoffWeb)
	h.waitState(id, api.StateFailed)
	h.r.Wait()
	ctx := context.Background()
	if _, err := h.r.Retry(ctx, "nope"); statusOf(err) != http.StatusNotFound {
		t.Errorf("retry of an unknown incident: %v", err)
	}

	h.dns.mu.Lock()
	h.dns.err = nil
	h.dns.mu.Unlock()
	if _, err := h.r.Retry(ctx, id); err != nil {
		t.Fatal(err)
	}
	got := h.waitState(id, api.StateResolved)
	h.r.Wait()
	if p, _ := h.strat.counts(); p != 1 || h.fencer.calls != 1 {
		t.Fatalf("retry ran prepare %d and fence %d times in all, want once each", p, h.fencer.calls)
	}
	if sw := got.Phase(api.PhaseSwitch); sw.Outcome != api.OutcomeOK || sw.Attempts != 4 || h.dns.count() != 4 || got.Error != "" || got.ClosedAt == nil {
		t.Fatalf("after retry: switch %+v, %d UPDATEs, error %q; want ok on the 4th attempt", sw, h.dns.count(), got.Error)
	}
	if _, err := h.r.Retry(ctx, id); statusOf(err) != http.StatusConflict || !strings.Contains(err.Error(), "only a failed incident") {
		t.Errorf("retry of a resolved incident: %v", err)
	}

	// The UPDATE reached the server, but the phase failed afterwards (its
	// check timed out): the retry finds DNS switched and sends nothing.
	h2 := newHarness(t, testConfig)
	h2.strat.abortErr = noAbort
	h2.dns.err = errors.New("verify timed out")
	id = openIncident(t, h2, shutoffWeb)
	h2.waitState(id, api.StateFailed)
	h2.r.Wait()
	h2.dns.mu.Lock()
	h2.dns.err = nil
	h2.dns.records = map[string][]netip.Addr{"web.example.test.": {netip.MustParseAddr("127.0.0.2")}}
	h2.dns.mu.Unlock()
	sent := h2.dns.count()
	if _, err := h2.r.Retry(ctx, id); err != nil {
		t.Fatal(err)
	}
	got = h2.waitState(id, api.StateResolved)
	if h2.dns.count() != sent || got.DNS == nil || got.DNS.SwitchedAt == nil {
		t.Fatalf("retry sent %d more UPDATEs (DNS %+v); the switch had reached DNS and must not be redone", h2.dns.count()-sent, got.DNS)
	}
}

// TestRetryOverHTTP: the API's retry answers 202 for a failed incident and
// 409 for one that needs attention, saying what to do instead.
func TestRetryOverHTTP(t *testing.T) {
	h := newHarness(t, testConfig)
	h.fencer.err = fmt.Errorf("dial: %w", pipeline.ErrHostUnreachable)
	h.prober.primaryAnswers.Store(true)
	id := openIncident(t, h, shutoffWeb)
	h.waitState(id, api.StateNeedsAttention)
	h.r.Wait()
	c := api.New(h.srv.URL, "")
	var se *api.StatusError
	if _, err := c.Retry(context.Background(), id); !errors.As(err, &se) || se.Code != 409 || !strings.Contains(se.Message, "vcrctl failover web") {
		t.Fatalf("retry of a needs-attention incident: %v", err)
	}
}
