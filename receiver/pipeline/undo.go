package pipeline

import (
	"context"
	"errors"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// ErrCancelled is why a runner stops when an operator cancelled its
// incident: the cause its stages' context is cancelled with, and what an
// attempt returns instead of starting once the request is journaled.
var ErrCancelled = errors.New("cancelled by an operator")

// interrupt cancels one runner's stages.
type interrupt struct{ cancel context.CancelCauseFunc }

// track gives a runner's stages a context that Cancel can interrupt; the
// returned func forgets it once the runner is done.
func (p *Pipeline) track(ctx context.Context, id string) (context.Context, func()) {
	sctx, cancel := context.WithCancelCause(ctx)
	it := &interrupt{cancel: cancel}
	p.mu.Lock()
	p.running[id] = it // a runner of an incident adopted again replaces the old one's
	p.mu.Unlock()
	return sctx, func() {
		p.mu.Lock()
		if p.running[id] == it {
			delete(p.running, id)
		}
		p.mu.Unlock()
		cancel(nil)
	}
}

// Cancel interrupts the stage the incident's runner is in. The receiver
// calls it after journaling the operator's request
// (api.Incident.CancelRequestedAt), which is what stops the runner for
// good: a runner that is not running yet, or resumes after a restart, finds
// the request before its next stage. It reports whether a runner was
// interrupted.
func (p *Pipeline) Cancel(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	it := p.running[id]
	if it != nil {
		it.cancel(ErrCancelled)
	}
	return it != nil
}

// Undo is the stage that undoes an incident's prepare: the abort stage, or,
// for a failback, whose prepare asked no strategy, the same stage recorded
// as skipped.
func (p *Pipeline) Undo(kind api.Kind) Stage {
	if kind == api.KindFailback {
		return Skip(p.abort, "failback: prepare asked no strategy (the primary is the target); nothing to undo")
	}
	return p.abort
}

// cancelled ends a recovery an operator cancelled before or during phase:
// the interrupted phase is recorded as cancelled, then the recovery is
// undone.
func (r *runner) cancelled(ctx context.Context, phase string) {
	inc, _ := r.held.Snapshot()
	cause := ErrCancelled.Error() + " before " + phase
	if ph := inc.Phase(phase); ph != nil && ph.Outcome == api.OutcomeRunning {
		cause = ErrCancelled.Error() + " during " + phase
		end := r.p.opts.Clock.Now()
		_, err := r.held.Update(ctx, nil, func(inc *api.Incident) {
			ph := inc.Phase(phase)
			ph.Outcome, ph.Error = api.OutcomeFailed, ErrCancelled.Error()
			ph.EndedAt = &end
			ph.DurationSeconds = end.Sub(ph.StartedAt).Seconds()
		})
		if err != nil && r.interrupted(ctx, phase, err) {
			return
		}
	}
	r.log.Info("recovery cancelled by an operator", "phase", phase)
	r.undo(ctx, cause)
}

// undo ends a recovery that cannot complete. When prepare had started, it
// runs the undo stage first (the journaled state "aborting" and the cause
// let a restart resume it, and a finished abort is never run again); then
// it closes the incident as failed with cause, plus what the abort could
// not do.
func (r *runner) undo(ctx context.Context, cause string) {
	inc, ok := r.held.Snapshot()
	prepare := inc.Phase(api.PhasePrepare)
	if !ok || prepare == nil || prepare.Outcome == api.OutcomeSkipped {
		r.finish(ctx, api.StateFailed, cause) // nothing was prepared: nothing to undo
		return
	}
	if ph := inc.Phase(api.PhaseAbort); ph == nil || ph.Outcome == api.OutcomeRunning {
		if inc.State != api.StateAborting {
			_, err := r.held.Update(ctx, nil, func(inc *api.Incident) {
				inc.State, inc.Error = api.StateAborting, cause
			})
			if err != nil && r.interrupted(ctx, api.PhaseAbort, err) {
				return
			}
		}
		var err error
		if sk, ok := r.p.Undo(inc.Kind).(skipped); ok {
			err = r.skip(ctx, sk)
		} else {
			err = r.runStage(ctx, r.p.abort)
		}
		if err != nil && r.interrupted(ctx, api.PhaseAbort, err) {
			return
		}
	}
	inc, _ = r.held.Snapshot()
	r.finish(ctx, api.StateFailed, undone(cause, inc.Phase(api.PhaseAbort)))
}

// undone is an undone incident's error: the cause, and what the abort
// phase could not do.
func undone(cause string, abort *api.Phase) string {
	switch {
	case abort == nil:
		return cause
	case abort.Outcome == api.OutcomeOK:
		return cause
	case abort.Outcome == api.OutcomeSkipped && len(abort.Messages) > 0:
		return cause + "; prepare not undone: " + abort.Messages[len(abort.Messages)-1]
	case abort.Outcome == api.OutcomeFailed:
		return cause + "; abort failed too, the service may be left as prepare made it: " + abort.Error
	default:
		return cause + "; the abort did not finish"
	}
}
