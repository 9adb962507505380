package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
	"github.com/vcrcovery/vcrcovery/receiver/ownership"
)

// The receiver's tests (package receiver) drive the pipeline end to end
// through the webhook and the journal; these check the runner alone, with a
// handle that can refuse writes.

const testConfig = `
pipeline: {max_attempts: 3, backoff: 10ms, max_backoff: 40ms}
dns_servers:
  - {name: main, address: "127.0.0.1:5353", key_name: k., secret_file: /dev/null}
services:
  - name: web
    primary: {domain: web01, host: {name: hv1, socket: /x}, address: 127.0.0.10, port: 8080}
    strategy: {name: warm}
    dns: {name: web.example.test., zone: example.test.}
`

func TestStagesPerKind(t *testing.T) {
	p := New(Options{})
	cases := []struct {
		kind api.Kind
		want string // phase names in order, "-" marking a skipped one
	}{
		{api.KindFailover, "fence prepare verify switch finalize"},
		{api.KindManualFailover, "fence prepare verify switch finalize"},
		{api.KindDrill, "-fence prepare verify switch finalize"},
		{api.KindScaleUp, "-fence prepare verify switch finalize"},
		{api.KindFailback, "-fence prepare verify switch -finalize"},
	}
	for _, tc := range cases {
		var got []string
		for _, s := range p.Stages(tc.kind) {
			name := s.Phase()
			if sk, ok := s.(skipped); ok {
				name = "-" + name
				if sk.why == "" {
					t.Errorf("%s: %s skipped without a reason", tc.kind, s.Phase())
				}
			}
			got = append(got, name)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s: stages %v, want %s", tc.kind, got, tc.want)
		}
		undo := p.Undo(tc.kind)
		if _, skip := undo.(skipped); undo.Phase() != api.PhaseAbort || skip != (tc.kind == api.KindFailback) {
			t.Errorf("%s: undo stage %s (skipped %v), want abort, skipped only for a failback", tc.kind, undo.Phase(), skip)
		}
	}
}

// fakeHeld applies updates in memory and refuses every write from the
// refuseFrom-th on (1-based; 0: never) with refusal.
type fakeHeld struct {
	mu         sync.Mutex
	inc        api.Incident
	writes     int
	refuseFrom int
	refusal    error
	refused    int
	released   int
}

func (h *fakeHeld) ID() string { return h.inc.ID }

func (h *fakeHeld) Snapshot() (api.Incident, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.inc, true
}

func (h *fakeHeld) Update(_ context.Context, _ []journal.Event, fn func(*api.Incident)) (api.Incident, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes++
	if h.refuseFrom > 0 && h.writes >= h.refuseFrom {
		h.refused++
		return api.Incident{}, h.refusal
	}
	fn(&h.inc)
	h.inc.Revision++
	return h.inc, nil
}

func (h *fakeHeld) Release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.released++
}

type okFencer struct{}

func (okFencer) Fence(context.Context, config.Host, string, string) (string, error) {
	return "destroyed", nil
}

type okStrategies struct{}

func (okStrategies) Prepare(context.Context, string, sdk.PrepareRequest, sdk.ProgressFunc) (sdk.Endpoint, error) {
	return sdk.Endpoint{Address: "127.0.0.2", Port: 8080}, nil
}
func (okStrategies) Finalize(context.Context, string, sdk.FinalizeRequest) error { return nil }
func (okStrategies) Abort(context.Context, string, sdk.AbortRequest) error       { return nil }
func (okStrategies) ValidateConfig(context.Context, string, sdk.ValidateRequest) error {
	return nil
}

type okProber struct{}

func (okProber) Once(context.Context, Check) error { return errors.New("refused") }
func (okProber) Wait(context.Context, Check) error { return nil }

type countingDNS struct {
	mu       sync.Mutex
	replaces int
}

func (d *countingDNS) Replace(context.Context, config.DNSServer, string, string, uint32, []netip.Addr) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.replaces++
	return nil
}

func (d *countingDNS) Lookup(context.Context, config.DNSServer, string, string) ([]netip.Addr, error) {
	return nil, nil
}

type instantClock struct{}

func (instantClock) Now() time.Time                                   { return time.Now() }
func (instantClock) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// newTestPipeline builds a pipeline whose collaborators all succeed; mods
// replace some of them.
func newTestPipeline(t *testing.T, dns DNS, mods ...func(*Options)) *Pipeline {
	t.Helper()
	cfg, err := config.Parse([]byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Config: func() *config.Config { return cfg }, Fencer: okFencer{}, Strategies: okStrategies{}, Prober: okProber{}, DNS: dns,
		Clock: instantClock{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics: Metrics{
			Recoveries:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "r"}, []string{"service", "strategy", "outcome"}),
			PhaseDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "d"}, []string{"phase"}),
			DNSUpdates:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "u"}, []string{"service", "result"}),
		},
	}
	for _, mod := range mods {
		mod(&opts)
	}
	return New(opts)
}

func newIncident() api.Incident {
	return api.Incident{ID: "i-1", Service: "web", Strategy: "warm", State: api.StateOpen, Kind: api.KindFailover, Revision: 1}
}

func TestRunResolves(t *testing.T) {
	dns := &countingDNS{}
	h := &fakeHeld{inc: newIncident()}
	newTestPipeline(t, dns).Run(context.Background(), h)
	var phases []string
	for _, ph := range h.inc.Phases {
		phases = append(phases, ph.Name+"="+ph.Outcome)
	}
	if h.inc.State != api.StateResolved || dns.replaces != 1 || h.released != 0 ||
		strings.Join(phases, " ") != "fence=ok prepare=ok verify=ok switch=ok finalize=ok" {
		t.Fatalf("state %s, %d switches, %d releases, phases %v", h.inc.State, dns.replaces, h.released, phases)
	}
}

// TestRunHandsBackWhenRefused: once the handle refuses a write, because
// the incident was adopted again (ErrNotOwner) or the shared journal did not
// answer (ErrUnavailable), the runner releases the incident and writes,
// switches and closes nothing more.
func TestRunHandsBackWhenRefused(t *testing.T) {
	for _, verdict := range []error{ownership.ErrNotOwner, ownership.ErrUnavailable} {
		// Writes 1-2: fence start and end; 3: prepare start; 4: the
		// endpoint; 5: prepare end; 6-7: verify; 8: switch start; 9:
		// "switch started", the write the UPDATE waits for.
		for refuseFrom := 1; refuseFrom <= 9; refuseFrom++ {
			t.Run(fmt.Sprintf("%v from write %d", verdict, refuseFrom), func(t *testing.T) {
				dns := &countingDNS{}
				h := &fakeHeld{inc: newIncident(), refuseFrom: refuseFrom, refusal: fmt.Errorf("incident i-1: %w", verdict)}
				newTestPipeline(t, dns).Run(context.Background(), h)
				if h.released != 1 || h.refused != 1 {
					t.Fatalf("%d releases and %d refused writes, want 1 each", h.released, h.refused)
				}
				if h.inc.State == api.StateResolved || h.inc.State == api.StateFailed {
					t.Fatalf("incident closed as %s by a runner that lost it", h.inc.State)
				}
				if dns.replaces != 0 {
					t.Fatalf("%d DNS switches after the handle refused write %d", dns.replaces, refuseFrom)
				}
			})
		}
	}
}

// refusingDNS fails every UPDATE with err.
type refusingDNS struct {
	countingDNS
	err error
}

func (d *refusingDNS) Replace(ctx context.Context, s config.DNSServer, zone, name string, ttl uint32, addrs []netip.Addr) error {
	d.countingDNS.Replace(ctx, s, zone, name, ttl, addrs)
	return d.err
}

// dnsError is an error that knows whether retrying can help, as
// dnsupdate's *UpdateError does.
type dnsError struct {
	msg       string
	permanent bool
}

func (e dnsError) Error() string   { return e.msg }
func (e dnsError) Permanent() bool { return e.permanent }

// TestPermanentErrorsAreNotRetried: a DNS server that refuses the key fails
// the switch at once with its hint; a timeout is retried up to
// pipeline.max_attempts.
func TestPermanentErrorsAreNotRetried(t *testing.T) {
	for _, tc := range []struct {
		err      dnsError
		attempts int
	}{
		{dnsError{"NOTAUTH (TSIG BADSIG): check the TSIG key name and secret", true}, 1},
		{dnsError{"no answer from 127.0.0.1:53", false}, 3},
	} {
		dns := &refusingDNS{err: tc.err}
		h := &fakeHeld{inc: newIncident()}
		newTestPipeline(t, dns).Run(context.Background(), h)
		sw := h.inc.Phase(api.PhaseSwitch)
		if h.inc.State != api.StateFailed || sw == nil || sw.Attempts != tc.attempts || dns.replaces != tc.attempts {
			t.Fatalf("%q: state %s, switch %+v, %d UPDATEs; want failed after %d attempts", tc.err, h.inc.State, sw, dns.replaces, tc.attempts)
		}
		if !strings.Contains(h.inc.Error, "switch failed: dns update of web.example.test.: "+tc.err.msg) {
			t.Errorf("incident error %q lacks the DNS error and its hint", h.inc.Error)
		}
	}
}

// TestPlanFollowsTheStages: a plan is the stage list in words, so what it
// says runs is what Stages runs, and every step says something.
func TestPlanFollowsTheStages(t *testing.T) {
	p := newTestPipeline(t, &countingDNS{})
	cfg, _ := config.Parse([]byte(testConfig))
	svc := &cfg.Services[0]
	for _, kind := range []api.Kind{api.KindFailover, api.KindManualFailover, api.KindDrill, api.KindScaleUp, api.KindFailback} {
		plan := p.Plan(kind, false, svc)
		stages := p.Stages(kind)
		if len(plan.Steps) != len(stages) {
			t.Fatalf("%s: %d steps for %d stages", kind, len(plan.Steps), len(stages))
		}
		for i, s := range stages {
			_, skip := s.(skipped)
			if st := plan.Steps[i]; st.Phase != s.Phase() || st.Runs == skip || st.Does == "" {
				t.Errorf("%s: step %+v for stage %s (skipped %v)", kind, st, s.Phase(), skip)
			}
		}
	}
	forced := p.Plan(api.KindManualFailover, true, svc).Steps[0].Does
	if !strings.Contains(forced, "switch even if the primary still answers on 127.0.0.10:8080 (forced)") {
		t.Errorf("forced fence step = %q", forced)
	}
	if guarded := p.Plan(api.KindManualFailover, false, svc).Steps[0].Does; !strings.Contains(guarded, "stop in needs-attention if the primary still answers") {
		t.Errorf("fence step = %q", guarded)
	}
}
