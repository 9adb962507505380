package receiver

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// TestCancel: an operator cancels, through the API, a recovery whose
// Prepare hangs. The cancel is journaled and answered 202, the runner stops
// at once, the strategy undoes prepare, and the incident ends failed
// without any DNS change; a second cancel, or one of an unknown incident,
// is refused.
func TestCancel(t *testing.T) {
	h := newHarness(t, testConfig)
	started := make(chan struct{})
	h.strat.block, h.strat.started = make(chan struct{}), started
	c := api.New(h.srv.URL, "")
	ctx := context.Background()
	id := openIncident(t, h, shutoffWeb)
	<-started
	got, err := c.Cancel(ctx, id)
	if err != nil || got.CancelRequestedAt == nil {
		t.Fatalf("Cancel = %+v, %v; want the incident with the request recorded", got, err)
	}
	inc := h.waitState(id, api.StateFailed)
	h.r.Wait()
	var phases []string
	for _, p := range inc.Phases {
		phases = append(phases, p.Name+"="+p.Outcome)
	}
	if inc.Error != "cancelled by an operator during prepare" || strings.Join(phases, " ") != "detect=ok fence=ok prepare=failed abort=ok" {
		t.Fatalf("error %q, phases %v", inc.Error, phases)
	}
	if h.strat.abortCount() != 1 || h.dns.count() != 0 {
		t.Fatalf("%d aborts and %d DNS switches after the cancel, want 1 and 0", h.strat.abortCount(), h.dns.count())
	}
	if req := h.strat.aborts[0]; req.IncidentID != id || req.Reason != inc.Error || string(req.Settings) != `{"container":"web"}` {
		t.Errorf("Abort request %+v", req)
	}
	var se *api.StatusError
	if _, err := c.Cancel(ctx, id); !errors.As(err, &se) || se.Code != http.StatusConflict || !strings.Contains(se.Message, "no running recovery") {
		t.Fatalf("cancel of a failed incident: %v, want 409", err)
	}
	if _, err := c.Cancel(ctx, "nope"); !errors.As(err, &se) || se.Code != http.StatusNotFound {
		t.Fatalf("cancel of an unknown incident: %v, want 404", err)
	}
	// The cancelled incident holds the service until acknowledged, as any
	// failed one does.
	if _, err := c.Acknowledge(ctx, id); err != nil {
		t.Fatal(err)
	}
}

// TestCancelRefusedOnceTheSwitchStarted: clients may already reach the new
// endpoint once the UPDATE is on its way, so a cancel is refused with 409,
// and the recovery completes without an abort.
func TestCancelRefusedOnceTheSwitchStarted(t *testing.T) {
	h := newHarness(t, testConfig)
	started, release := make(chan struct{}), make(chan struct{})
	h.dns.started, h.dns.block = started, release
	id := openIncident(t, h, shutoffWeb)
	<-started
	_, err := api.New(h.srv.URL, "").Cancel(context.Background(), id)
	var se *api.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusConflict || !strings.Contains(se.Message, "its DNS switch has started") {
		t.Fatalf("cancel during the switch: %v, want 409 naming the switch", err)
	}
	close(release)
	inc := h.waitState(id, api.StateResolved)
	if inc.CancelRequestedAt != nil || h.strat.abortCount() != 0 {
		t.Fatalf("a refused cancel left a trace: requested %v, %d aborts", inc.CancelRequestedAt, h.strat.abortCount())
	}
}

// TestUndoAfterFailedVerify: through the whole receiver, a verify that
// never answers has the strategy undo prepare with the endpoint it
// returned, and the incident records the abort.
func TestUndoAfterFailedVerify(t *testing.T) {
	h := newHarness(t, testConfig)
	h.prober.waitErr = errors.New("connection refused")
	id := openIncident(t, h, shutoffWeb)
	inc := h.waitState(id, api.StateFailed)
	h.r.Wait()
	ab := inc.Phase(api.PhaseAbort)
	if ab == nil || ab.Outcome != api.OutcomeOK || !strings.HasPrefix(inc.Error, "verify failed: ") {
		t.Fatalf("abort phase %+v, error %q", ab, inc.Error)
	}
	if h.strat.abortCount() != 1 || h.strat.aborts[0].Endpoint.Address != "127.0.0.2" || h.dns.count() != 0 {
		t.Fatalf("aborts %+v, %d switches", h.strat.aborts, h.dns.count())
	}
}

// TestRetryAfterUndo: a retry of a recovery whose prepare the abort undid
// runs prepare again (the service it described is gone), forgets the old
// abort, and a retried cancelled recovery is no longer cancelled.
func TestRetryAfterUndo(t *testing.T) {
	h := newHarness(t, testConfig)
	h.prober.waitErr = errors.New("connection refused")
	ctx := context.Background()
	id := openIncident(t, h, shutoffWeb)
	h.waitState(id, api.StateFailed)
	h.r.Wait()
	h.prober.waitErr = nil
	if _, err := h.r.Retry(ctx, id); err != nil {
		t.Fatal(err)
	}
	got := h.waitState(id, api.StateResolved)
	h.r.Wait()
	var phases []string
	for _, p := range got.Phases {
		phases = append(phases, p.Name+"="+p.Outcome)
	}
	if strings.Join(phases, " ") != "detect=ok fence=ok prepare=ok verify=ok switch=ok finalize=ok" {
		t.Fatalf("phases after the retry: %v", phases)
	}
	if p, _ := h.strat.counts(); p != 2 || h.fencer.calls != 1 || h.strat.abortCount() != 1 || h.dns.count() != 1 {
		t.Fatalf("prepare %d, fence %d, abort %d, UPDATEs %d; want prepare again after the undo, the rest once", p, h.fencer.calls, h.strat.abortCount(), h.dns.count())
	}

	h2 := newHarness(t, testConfig)
	started := make(chan struct{})
	h2.strat.block, h2.strat.started = make(chan struct{}), started
	id = openIncident(t, h2, shutoffWeb)
	<-started
	if _, err := h2.r.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	h2.waitState(id, api.StateFailed)
	h2.r.Wait()
	close(h2.strat.block)
	if _, err := h2.r.Retry(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got := h2.waitState(id, api.StateResolved); got.CancelRequestedAt != nil || got.Phase(api.PhaseAbort) != nil {
		t.Fatalf("a retried cancel still shows the cancel (%v) or its abort (%+v)", got.CancelRequestedAt, got.Phase(api.PhaseAbort))
	}
}
