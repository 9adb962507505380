package sdktest

import (
	"context"
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// world is one strategy's fixture as the idempotency checks use it.
type world struct {
	fx  Fixture
	req sdk.PrepareRequest
	// newStrategy returns a fresh strategy behind a host-side client.
	newStrategy func(t testing.TB) sdk.Strategy
}

func (w *world) reset(t testing.TB) {
	if w.fx.Reset != nil {
		w.fx.Reset(t)
	}
}

// state is the fixture's description of the world, or "" without one.
func (w *world) state(t testing.TB) string {
	if w.fx.State == nil {
		return ""
	}
	return w.fx.State(t)
}

func (w *world) prepare(t testing.TB) (sdk.Endpoint, error) {
	return w.newStrategy(t).Prepare(context.Background(), w.req, nil)
}

func (w *world) finalize(t testing.TB, ep sdk.Endpoint) error {
	return w.newStrategy(t).Finalize(context.Background(), sdk.FinalizeRequest{
		IncidentID: w.req.IncidentID, Service: w.req.Service, Settings: w.req.Settings, Shared: w.req.Shared, Endpoint: ep,
	})
}

func (w *world) abort(t testing.TB, ep sdk.Endpoint) error {
	return w.newStrategy(t).Abort(context.Background(), sdk.AbortRequest{
		IncidentID: w.req.IncidentID, Service: w.req.Service, Reason: "sdktest: a phase after Prepare failed",
		Settings: w.req.Settings, Shared: w.req.Shared, Endpoint: ep,
	})
}

// sameWorld reports a difference between two states.
func sameWorld(r tb, what, wantLabel, want, gotLabel, got string) {
	r.Helper()
	if got != want {
		r.Errorf("%s\n%s:\n%s\n%s:\n%s", what, wantLabel, indent(want), gotLabel, indent(got))
	}
}

func sameEndpoint(r tb, what string, want, got sdk.Endpoint) {
	r.Helper()
	if got.Address != want.Address || got.Port != want.Port {
		r.Errorf("%s returned %s:%d, the first Prepare %s:%d; the receiver may already have switched DNS to the first", what, got.Address, got.Port, want.Address, want.Port)
	}
}

// The checks take r for their verdicts and t for the fixture's own calls,
// so the harness's tests can record the verdicts of a misbehaving strategy.

func checkPrepareTwice(r tb, t testing.TB, w *world) {
	r.Helper()
	w.reset(t)
	first, err := w.prepare(t)
	if err != nil {
		r.Fatalf("Prepare: %v", err)
	}
	after := w.state(t)
	second, err := w.prepare(t)
	if err != nil {
		r.Fatalf("second Prepare of the same incident: %v; the receiver re-runs Prepare after retries, restarts and takeovers", err)
	}
	sameEndpoint(r, "a second Prepare of the same incident", first, second)
	sameWorld(r, "a second Prepare of the same incident changed the world; it must find the work done and not do it again",
		"after the first Prepare", after, "after the second", w.state(t))
}

func checkFinalizeTwice(r tb, t testing.TB, w *world) {
	r.Helper()
	w.reset(t)
	ep, err := w.prepare(t)
	if err != nil {
		r.Fatalf("Prepare: %v", err)
	}
	if err := w.finalize(t, ep); err != nil {
		r.Fatalf("Finalize: %v", err)
	}
	after := w.state(t)
	if err := w.finalize(t, ep); err != nil {
		r.Errorf("second Finalize of the same incident: %v; it must be harmless", err)
	}
	sameWorld(r, "a second Finalize changed the world", "after the first Finalize", after, "after the second", w.state(t))
}

func checkAbortAfterPrepare(r tb, t testing.TB, w *world) {
	r.Helper()
	w.reset(t)
	before := w.state(t)
	ep, err := w.prepare(t)
	if err != nil {
		r.Fatalf("Prepare: %v", err)
	}
	if err := w.abort(t, ep); err != nil {
		r.Fatalf("Abort after Prepare: %v", err)
	}
	sameWorld(r, "Abort did not put the world back as it was before Prepare", "before Prepare", before, "after Abort", w.state(t))
	if err := w.abort(t, ep); err != nil {
		r.Errorf("second Abort: %v; it must find nothing left to undo", err)
	}
	sameWorld(r, "a second Abort changed the world", "before Prepare", before, "after the second Abort", w.state(t))
}

func checkAbortWithoutPrepare(r tb, t testing.TB, w *world) {
	r.Helper()
	w.reset(t)
	before := w.state(t)
	if err := w.abort(t, sdk.Endpoint{}); err != nil {
		r.Errorf("Abort without a Prepare: %v; it must be a no-op (the receiver may abort an incident whose Prepare never ran)", err)
	}
	sameWorld(r, "Abort without a Prepare changed the world", "before", before, "after Abort", w.state(t))
}

func checkPrepareAfterCrash(r tb, t testing.TB, w *world) {
	r.Helper()
	w.reset(t)
	clean, err := w.prepare(t)
	if err != nil {
		r.Fatalf("Prepare: %v", err)
	}
	want := w.state(t)
	w.reset(t)
	w.fx.Crash(t)
	got, err := w.prepare(t)
	if err != nil {
		r.Fatalf("Prepare after a crash halfway: %v; it must finish or redo what the crashed attempt began", err)
	}
	sameEndpoint(r, "Prepare after a crash halfway", clean, got)
	sameWorld(r, "Prepare after a crash halfway left another world than a clean Prepare", "after a clean Prepare", want, "after the crash and a Prepare", w.state(t))
}

func indent(s string) string {
	if s == "" {
		return "  (nothing)"
	}
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}
