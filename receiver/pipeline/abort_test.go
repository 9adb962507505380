package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
	"github.com/vcrcovery/vcrcovery/receiver/ownership"
)

// recordingStrategies prepares 127.0.0.2:8080 and records every Abort;
// each call fails with its error when one is set.
type recordingStrategies struct {
	mu          sync.Mutex
	prepareErr  error
	finalizeErr error
	abortErr    error
	// prepareStarted, when set, is closed as Prepare starts, which then
	// waits for its context to end.
	prepareStarted chan struct{}
	aborts         []sdk.AbortRequest
}

func (s *recordingStrategies) Prepare(ctx context.Context, _ string, _ sdk.PrepareRequest, _ sdk.ProgressFunc) (sdk.Endpoint, error) {
	s.mu.Lock()
	started := s.prepareStarted
	s.mu.Unlock()
	if started != nil {
		close(started)
		<-ctx.Done()
		return sdk.Endpoint{}, ctx.Err()
	}
	if s.prepareErr != nil {
		return sdk.Endpoint{}, s.prepareErr
	}
	return sdk.Endpoint{Address: "127.0.0.2", Port: 8080, Details: map[string]string{"moved": "web"}}, nil
}

func (s *recordingStrategies) Finalize(context.Context, string, sdk.FinalizeRequest) error {
	return s.finalizeErr
}

func (s *recordingStrategies) Abort(_ context.Context, _ string, req sdk.AbortRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aborts = append(s.aborts, req)
	return s.abortErr
}

func (s *recordingStrategies) ValidateConfig(context.Context, string, sdk.ValidateRequest) error {
	return nil
}

func (s *recordingStrategies) abortCalls() []sdk.AbortRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sdk.AbortRequest(nil), s.aborts...)
}

// lookupDNS refuses every UPDATE with a transient error, as refusingDNS
// does. Lookup answers current, or lookupErr; from lookup number changeAt on
// (1-based; 0: never) it answers later.
type lookupDNS struct {
	refusingDNS
	mu        sync.Mutex
	current   []netip.Addr
	lookupErr error
	changeAt  int
	later     []netip.Addr
	lookups   int
}

func newLookupDNS() *lookupDNS {
	return &lookupDNS{refusingDNS: refusingDNS{err: errors.New("dns update: NOTAUTH (TSIG BADSIG)")}}
}

func (d *lookupDNS) Lookup(context.Context, config.DNSServer, string, string) ([]netip.Addr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lookups++
	if d.changeAt > 0 && d.lookups >= d.changeAt {
		return d.later, nil
	}
	return d.current, d.lookupErr
}

type downProber struct{}

func (downProber) Once(context.Context, Check) error { return errors.New("refused") }
func (downProber) Wait(context.Context, Check) error { return errors.New("connection refused") }

type failingFencer struct{}

func (failingFencer) Fence(context.Context, config.Host, string, string) (string, error) {
	return "", errors.New("virDomainDestroy: internal error")
}

// phaseLine is "name=outcome ..." for the incident's phases in order.
func phaseLine(inc api.Incident) string {
	var parts []string
	for _, ph := range inc.Phases {
		parts = append(parts, ph.Name+"="+ph.Outcome)
	}
	return strings.Join(parts, " ")
}

// TestUndoAfterFailure: when prepare, verify or the switch fails for good,
// the runner asks the strategy to undo prepare, records it as the abort
// phase and ends the incident failed with the original cause; a failure
// before prepare or after the switch undoes nothing.
func TestUndoAfterFailure(t *testing.T) {
	target := netip.MustParseAddr("127.0.0.2")
	old := []netip.Addr{netip.MustParseAddr("127.0.0.10")}
	unsupported := fmt.Errorf("strategy warm: Abort: %w", &sdk.UnsupportedError{Call: "Abort", Version: 1})
	cases := []struct {
		name       string
		kind       api.Kind
		setup      func(*Options, *recordingStrategies)
		wantState  api.State
		wantPhases string
		wantAborts int
		wantError  []string
	}{
		{name: "verify fails", setup: func(o *Options, _ *recordingStrategies) { o.Prober = downProber{} },
			wantPhases: "fence=ok prepare=ok verify=failed abort=ok", wantAborts: 1, wantError: []string{"verify failed: endpoint 127.0.0.2:8080 not ready"}},
		{name: "switch refused", setup: func(o *Options, _ *recordingStrategies) {
			d := newLookupDNS()
			d.current = old
			o.DNS = d
		},
			wantPhases: "fence=ok prepare=ok verify=ok switch=failed abort=ok", wantAborts: 1, wantError: []string{"switch failed: dns update of web.example.test.: dns update: NOTAUTH"}},
		// Each of the switch's three attempts looks up the name first; the
		// fourth lookup is the abort's.
		{name: "switch reported failure but DNS points at the endpoint", setup: func(o *Options, _ *recordingStrategies) {
			d := newLookupDNS()
			d.current, d.changeAt, d.later = old, 4, []netip.Addr{target}
			o.DNS = d
		},
			wantPhases: "fence=ok prepare=ok verify=ok switch=failed abort=skipped", wantAborts: 0,
			wantError: []string{"switch failed: ", "prepare not undone: web.example.test. points at 127.0.0.2 although the switch reported an error"}},
		{name: "switch failed and DNS does not answer", setup: func(o *Options, _ *recordingStrategies) {
			d := newLookupDNS()
			d.lookupErr = errors.New("i/o timeout")
			o.DNS = d
		}, wantPhases: "fence=ok prepare=ok verify=ok switch=failed abort=failed", wantAborts: 0,
			wantError: []string{"switch failed: ", "abort failed too", "cannot confirm that the failed switch left web.example.test. unchanged"}},
		{name: "prepare fails", setup: func(_ *Options, s *recordingStrategies) { s.prepareErr = errors.New("zfs: out of space") },
			wantPhases: "fence=ok prepare=failed abort=ok", wantAborts: 1, wantError: []string{"prepare failed: strategy warm: zfs: out of space"}},
		{name: "fence fails: nothing prepared", setup: func(o *Options, _ *recordingStrategies) { o.Fencer = failingFencer{} },
			wantPhases: "fence=failed", wantAborts: 0, wantError: []string{"fence failed: "}},
		{name: "failback: no strategy to undo", kind: api.KindFailback, setup: func(o *Options, _ *recordingStrategies) { o.Prober = downProber{} },
			wantPhases: "fence=skipped prepare=ok verify=failed abort=skipped", wantAborts: 0, wantError: []string{"verify failed: ", "prepare not undone: failback"}},
		{name: "protocol 1 plugin", setup: func(o *Options, s *recordingStrategies) { o.Prober, s.abortErr = downProber{}, unsupported },
			wantPhases: "fence=ok prepare=ok verify=failed abort=skipped", wantAborts: 1,
			wantError: []string{"verify failed: ", "prepare not undone: strategy warm: Abort is not supported by this plugin (protocol v1)"}},
		{name: "abort fails", setup: func(o *Options, s *recordingStrategies) {
			o.Prober, s.abortErr = downProber{}, errors.New("lxd: connection refused")
		},
			wantPhases: "fence=ok prepare=ok verify=failed abort=failed", wantAborts: 3,
			wantError: []string{"verify failed: ", "abort failed too, the service may be left as prepare made it: strategy warm abort: lxd: connection refused"}},
		{name: "finalize fails after the switch", setup: func(_ *Options, s *recordingStrategies) { s.finalizeErr = errors.New("busy") },
			wantState: api.StateResolved, wantPhases: "fence=ok prepare=ok verify=ok switch=ok finalize=failed", wantAborts: 0, wantError: []string{"recovered, but finalize failed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			strat := &recordingStrategies{}
			p := newTestPipeline(t, &countingDNS{}, func(o *Options) {
				o.Strategies = strat
				tc.setup(o, strat)
			})
			inc := newIncident()
			if tc.kind != "" {
				inc.Kind = tc.kind
			}
			h := &fakeHeld{inc: inc}
			p.Run(context.Background(), h)
			want := tc.wantState
			if want == "" {
				want = api.StateFailed
			}
			if h.inc.State != want || phaseLine(h.inc) != tc.wantPhases {
				t.Fatalf("state %s, phases %q; want %s, %q (error %q)", h.inc.State, phaseLine(h.inc), want, tc.wantPhases, h.inc.Error)
			}
			for _, w := range tc.wantError {
				if !strings.Contains(h.inc.Error, w) {
					t.Errorf("error %q lacks %q", h.inc.Error, w)
				}
			}
			aborts := strat.abortCalls()
			if len(aborts) != tc.wantAborts {
				t.Fatalf("%d Abort calls, want %d", len(aborts), tc.wantAborts)
			}
			if len(aborts) > 0 {
				req := aborts[0]
				if req.IncidentID != "i-1" || req.Service != "web" || !strings.HasPrefix(h.inc.Error, req.Reason) || req.Reason == "" {
					t.Errorf("Abort request %+v does not name the incident and the cause %q", req, h.inc.Error)
				}
				if ep := h.inc.Endpoint; ep != nil && (req.Endpoint.Address != ep.Address || req.Endpoint.Details["moved"] != "web") {
					t.Errorf("Abort got endpoint %+v, want what prepare returned %+v", req.Endpoint, ep)
				}
			}
		})
	}
}

// TestUndoResumesAfterRestart: an incident journaled while its abort ran
// runs the abort again (Abort is idempotent) and ends failed with the cause
// journaled before; a finished abort is never run again.
func TestUndoResumesAfterRestart(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		abortOutcome string
		wantAborts   int
		wantOutcome  string
	}{
		{api.OutcomeRunning, 1, api.OutcomeOK},
		{api.OutcomeOK, 0, api.OutcomeOK},
		{api.OutcomeFailed, 0, api.OutcomeFailed},
	} {
		t.Run(tc.abortOutcome, func(t *testing.T) {
			strat := &recordingStrategies{}
			inc := newIncident()
			inc.State, inc.Error = api.StateAborting, "verify failed: endpoint not ready"
			inc.Endpoint = &api.Endpoint{Address: "127.0.0.2", Port: 8080}
			inc.Phases = []api.Phase{
				{Name: api.PhaseFence, StartedAt: now, Outcome: api.OutcomeOK},
				{Name: api.PhasePrepare, StartedAt: now, Outcome: api.OutcomeOK},
				{Name: api.PhaseVerify, StartedAt: now, Outcome: api.OutcomeFailed, Error: "endpoint not ready"},
				{Name: api.PhaseAbort, StartedAt: now, Outcome: tc.abortOutcome, Attempts: 1, Error: map[bool]string{true: "lxd down"}[tc.abortOutcome == api.OutcomeFailed]},
			}
			h := &fakeHeld{inc: inc}
			newTestPipeline(t, &countingDNS{}, func(o *Options) { o.Strategies = strat }).Run(context.Background(), h)
			if n := len(strat.abortCalls()); n != tc.wantAborts {
				t.Fatalf("%d Abort calls after a restart with the abort %s, want %d", n, tc.abortOutcome, tc.wantAborts)
			}
			if h.inc.State != api.StateFailed || !strings.HasPrefix(h.inc.Error, "verify failed: endpoint not ready") {
				t.Fatalf("state %s, error %q", h.inc.State, h.inc.Error)
			}
			if ph := h.inc.Phase(api.PhaseAbort); ph.Outcome != tc.wantOutcome || phaseLine(h.inc) != "fence=ok prepare=ok verify=failed abort="+tc.wantOutcome {
				t.Fatalf("phases %q", phaseLine(h.inc))
			}
			if h.inc.Phase(api.PhaseVerify).Attempts != 0 {
				t.Fatal("verify ran again after a restart during the undo")
			}
		})
	}
}

// TestUndoHandsBackWhenRefused: a runner whose handle refuses the abort's
// writes releases the incident without calling Abort or closing it.
func TestUndoHandsBackWhenRefused(t *testing.T) {
	// Writes 1-2: fence; 3-5: prepare; 6-7: verify (failed); 8: "aborting".
	for _, verdict := range []error{ownership.ErrNotOwner, ownership.ErrUnavailable} {
		strat := &recordingStrategies{}
		h := &fakeHeld{inc: newIncident(), refuseFrom: 8, refusal: fmt.Errorf("incident i-1: %w", verdict)}
		newTestPipeline(t, &countingDNS{}, func(o *Options) { o.Strategies, o.Prober = strat, downProber{} }).Run(context.Background(), h)
		if h.released != 1 || len(strat.abortCalls()) != 0 || h.inc.State == api.StateFailed {
			t.Fatalf("%v: %d releases, %d aborts, state %s", verdict, h.released, len(strat.abortCalls()), h.inc.State)
		}
	}
}

// TestCancel: a cancel request stops the runner at its next journaled
// point: Cancel interrupts a running Prepare, which is recorded as
// cancelled and undone; a request journaled before the runner starts
// stops it before fence, with nothing to undo.
func TestCancel(t *testing.T) {
	t.Run("during prepare", func(t *testing.T) {
		strat := &recordingStrategies{prepareStarted: make(chan struct{})}
		dns := &countingDNS{}
		p := newTestPipeline(t, dns, func(o *Options) { o.Strategies = strat })
		h := &fakeHeld{inc: newIncident()}
		done := make(chan struct{})
		go func() { defer close(done); p.Run(context.Background(), h) }()
		<-strat.prepareStarted
		now := time.Now()
		h.Update(context.Background(), nil, func(inc *api.Incident) { inc.CancelRequestedAt = &now })
		if !p.Cancel("i-1") {
			t.Fatal("Cancel found no runner for a running incident")
		}
		<-done
		if h.inc.State != api.StateFailed || h.inc.Error != "cancelled by an operator during prepare" {
			t.Fatalf("state %s, error %q", h.inc.State, h.inc.Error)
		}
		if phaseLine(h.inc) != "fence=ok prepare=failed abort=ok" || h.inc.Phase(api.PhasePrepare).Error != "cancelled by an operator" {
			t.Fatalf("phases %q (prepare %+v)", phaseLine(h.inc), h.inc.Phase(api.PhasePrepare))
		}
		if len(strat.abortCalls()) != 1 || dns.replaces != 0 {
			t.Fatalf("%d aborts and %d switches after a cancel during prepare", len(strat.abortCalls()), dns.replaces)
		}
		if p.Cancel("i-1") {
			t.Error("Cancel still finds the runner after it ended")
		}
	})
	t.Run("before the runner starts", func(t *testing.T) {
		strat := &recordingStrategies{}
		dns := &countingDNS{}
		inc := newIncident()
		now := time.Now()
		inc.CancelRequestedAt = &now
		h := &fakeHeld{inc: inc}
		newTestPipeline(t, dns, func(o *Options) { o.Strategies = strat }).Run(context.Background(), h)
		if h.inc.State != api.StateFailed || h.inc.Error != "cancelled by an operator before fence" || len(h.inc.Phases) != 0 {
			t.Fatalf("state %s, error %q, phases %q", h.inc.State, h.inc.Error, phaseLine(h.inc))
		}
		if len(strat.abortCalls()) != 0 || dns.replaces != 0 {
			t.Fatal("a recovery cancelled before it started called the strategy or DNS")
		}
	})
	t.Run("between attempts", func(t *testing.T) {
		// The request lands while verify fails and waits to retry: the
		// next attempt never starts, and the switch never runs.
		strat := &recordingStrategies{}
		dns := &countingDNS{}
		h := &fakeHeld{inc: newIncident()}
		prober := &cancellingProber{h: h}
		p := newTestPipeline(t, dns, func(o *Options) {
			o.Strategies = strat
			o.Prober = prober
		})
		p.Run(context.Background(), h)
		if h.inc.Error != "cancelled by an operator during verify" || phaseLine(h.inc) != "fence=ok prepare=ok verify=failed abort=ok" {
			t.Fatalf("error %q, phases %q", h.inc.Error, phaseLine(h.inc))
		}
		if prober.waits != 1 || dns.replaces != 0 {
			t.Fatalf("verify probed %d times and DNS switched %d times after the cancel", prober.waits, dns.replaces)
		}
	})
}

// cancellingProber journals a cancel request, as the receiver does, and
// then fails: it is what an operator's cancel during a failing verify
// looks like to the runner.
type cancellingProber struct {
	h     *fakeHeld
	waits int
}

func (*cancellingProber) Once(context.Context, Check) error { return errors.New("refused") }
func (p *cancellingProber) Wait(ctx context.Context, _ Check) error {
	p.waits++
	now := time.Now()
	p.h.Update(ctx, nil, func(inc *api.Incident) { inc.CancelRequestedAt = &now })
	return errors.New("connection refused")
}
