package receiver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

// Manual opens an operator's run of a service and starts its pipeline: a
// manual failover (the primary is fenced; while an unfenced primary still
// answers it stops in needs-attention unless force), a drill (a healthy
// primary stays up) or a failback. Its errors are ErrNotFound (no such
// service), ErrInvalid (force on another kind), ErrConflict (the service
// has an open incident or is not where the run starts) and ErrUnavailable
// (nothing journaled).
func (r *Receiver) Manual(ctx context.Context, service string, kind api.Kind, force bool) (api.Incident, error) {
	cfg := r.Config()
	svc := cfg.Service(service)
	if svc == nil {
		return api.Incident{}, withKind(ErrNotFound, fmt.Errorf("no service %q in the configuration: list them with GET /api/v1/services", service))
	}
	switch {
	case kind != api.KindManualFailover && kind != api.KindDrill && kind != api.KindFailback:
		return api.Incident{}, withKind(ErrInvalid, fmt.Errorf("an operator can run a manual failover, a drill or a failback, not %q", kind))
	case force && kind != api.KindManualFailover:
		return api.Incident{}, withKind(ErrInvalid, fmt.Errorf("only a manual failover can be forced, not a %s", kind))
	}
	now := r.clock.Now()
	reason := string(kind)
	var inc api.Incident
	var claims []journal.Claim
	var refused error
	r.store.locked(func() {
		if mi := r.store.heldLocked(service); mi != nil {
			refused = fmt.Errorf("service %s already has incident %s: wait for it or acknowledge it first", service, mi.inc.ID)
			return
		}
		if id := r.store.remoteLocked(service); id != "" {
			refused = fmt.Errorf("service %s already has incident %s (run by another replica): wait for it or acknowledge it first", service, id)
			return
		}
		st := r.store.stateLocked(service)
		if kind != api.KindFailback && st.location != api.LocationPrimary {
			refused = fmt.Errorf("service %s already runs on the %s: fail back first", service, st.location)
			return
		}
		inc = api.Incident{
			ID: newIncidentID(now, service), Service: service, Strategy: svc.Strategy.Name, Owner: r.own.Replica(),
			State: api.StateOpen, Reason: reason, Kind: kind, Force: force, OpenedAt: now, Revision: 1,
			Phases: []api.Phase{{Name: api.PhaseDetect, StartedAt: now, EndedAt: &now, Outcome: api.OutcomeOK, Attempts: 1, Messages: []string{"requested through the API"}}},
		}
		claims = []journal.Claim{{Service: service, IncidentID: inc.ID, Open: true, ClosedRev: st.closedRev}}
		r.store.holdLocked(inc)
	})
	if refused != nil {
		return api.Incident{}, withKind(ErrConflict, refused)
	}
	msg := "requested through the API"
	if force {
		msg += " (forced: switch even while the primary answers)"
	}
	ev := journal.Event{Time: now, Kind: reason, IncidentID: inc.ID, Service: service, Message: msg}
	if err := r.store.commit(ctx, journal.Batch{Events: []journal.Event{ev}, Incidents: []api.Incident{clone(inc)}}, claims); err != nil {
		r.store.dropOpened([]string{inc.ID})
		var conflict *journal.ConflictError
		if errors.As(err, &conflict) {
			r.store.learn(conflict)
			return api.Incident{}, withKind(ErrConflict, fmt.Errorf("service %s: another replica changed its incidents meanwhile (%v); check GET /api/v1/services and retry", service, err))
		}
		return api.Incident{}, withKind(ErrUnavailable, fmt.Errorf("journal the %s: %w", reason, err))
	}
	r.store.start(inc.ID)
	return inc, nil
}

// Plan says what a run of kind would do to service now, phase by phase,
// from the pipeline's own stage list: the runs an operator starts, and the
// automatic ones (what an incident resumed by Retry still runs). Its errors
// are ErrNotFound and ErrInvalid (an unknown kind, or force on another kind).
func (r *Receiver) Plan(service string, kind api.Kind, force bool) (api.Plan, error) {
	svc := r.Config().Service(service)
	if svc == nil {
		return api.Plan{}, withKind(ErrNotFound, fmt.Errorf("no service %q in the configuration: list them with GET /api/v1/services", service))
	}
	switch kind {
	case api.KindManualFailover, api.KindDrill, api.KindFailback, api.KindFailover, api.KindScaleUp:
	default:
		return api.Plan{}, withKind(ErrInvalid, fmt.Errorf("kind %q: plan a manual-failover, a drill, a failback, a failover or a scaleup", kind))
	}
	switch {
	case force && kind != api.KindManualFailover:
		return api.Plan{}, withKind(ErrInvalid, fmt.Errorf("only a manual failover can be forced, not a %s", kind))
	}
	return r.store.pipeline.Plan(kind, force, svc), nil
}

// Acknowledge records that an operator has seen an incident. A failed or
// needs-attention incident becomes acknowledged, which frees its service
// for the next incident; a running one cannot be acknowledged (ErrConflict).
// Its other errors are ErrNotFound, ErrNotOwner (another replica runs it)
// and ErrUnavailable (nothing journaled).
func (r *Receiver) Acknowledge(ctx context.Context, id string) (api.Incident, error) {
	now := r.clock.Now()
	snap, held := r.store.snapshot(id)
	if !held {
		return acknowledgeUnheld(ctx, r.opts.Journal, r.store, id, now)
	}
	if snap.State.Running() {
		return snap, withKind(ErrConflict, fmt.Errorf("incident %s is still %s: wait for it to end", id, snap.State))
	}
	ev := journal.Event{Time: now, Kind: "acknowledge", IncidentID: id, Service: snap.Service}
	inc, err := r.store.update(ctx, id, nil, []journal.Event{ev}, func(inc *api.Incident) {
		inc.State = api.StateAcknowledged
		inc.AcknowledgedAt = &now
		if inc.ClosedAt == nil {
			inc.ClosedAt = &now
		}
	})
	if err != nil {
		return inc, withKind(ErrUnavailable, err)
	}
	return inc, nil
}

// acknowledgeUnheld acknowledges an incident this replica does not hold:
// one closed already (resolved), or one another replica runs. It notes the
// acknowledgement if this replica may write the incident.
func acknowledgeUnheld(ctx context.Context, j journal.Journal, s *store, id string, now time.Time) (api.Incident, error) {
	inc, err := j.Incident(ctx, id)
	if errors.Is(err, journal.ErrNotFound) {
		return inc, withKind(ErrNotFound, fmt.Errorf("no incident %s", id))
	}
	if err != nil {
		return inc, err
	}
	if inc.AcknowledgedAt != nil {
		return inc, nil
	}
	ack := inc
	ack.AcknowledgedAt = &now
	ack.Revision++
	switch err := s.commitUnheld(ctx, ack); {
	case err == nil:
		return ack, nil
	case errors.Is(err, ErrNotOwner) && inc.State.Holds():
		return inc, withKind(ErrNotOwner, fmt.Errorf("incident %s is run by replica %s: send the acknowledgement to that replica", id, inc.Owner))
	case errors.Is(err, ErrNotOwner):
		return inc, nil // closed: no owner is left to note the acknowledgement
	default:
		return inc, withKind(ErrUnavailable, err)
	}
}

// Retry resumes a failed incident from the phase that failed. Completed
// phases are not run again; a switch journaled as done is never sent
// again, and one that had started is checked against DNS first, as after a
// restart. A recovery that was undone (its abort ran) resumes from prepare
// instead (see forgetUndo), and a cancelled one runs again. Its errors are
// ErrNotFound, ErrConflict (the incident is not failed), ErrNotOwner
// (another replica holds it) and ErrUnavailable.
func (r *Receiver) Retry(ctx context.Context, id string) (api.Incident, error) {
	snap, held := r.store.snapshot(id)
	if !held {
		inc, err := r.opts.Journal.Incident(ctx, id)
		switch {
		case errors.Is(err, journal.ErrNotFound):
			return inc, withKind(ErrNotFound, fmt.Errorf("no incident %s", id))
		case err != nil:
			return inc, withKind(ErrUnavailable, err)
		case inc.State == api.StateFailed && inc.Owner != "":
			return inc, withKind(ErrNotOwner, fmt.Errorf("incident %s is held by replica %s: send the retry to that replica", id, inc.Owner))
		}
		return inc, withKind(ErrConflict, notRetryable(inc))
	}
	if snap.State != api.StateFailed {
		return snap, withKind(ErrConflict, notRetryable(snap))
	}
	now := r.clock.Now()
	failed := "the first unfinished phase"
	for _, p := range snap.Phases {
		if p.Outcome == api.OutcomeFailed && p.Name != api.PhaseAbort {
			failed = p.Name
		}
	}
	msg := "resumed from " + failed + " through the API"
	if snap.Undone() {
		msg = "resumed from prepare through the API: the abort had undone it (and what followed), so it runs again"
	}
	ev := journal.Event{Time: now, Kind: "retry", IncidentID: id, Service: snap.Service, Message: msg}
	inc, err := r.store.update(ctx, id, nil, []journal.Event{ev}, func(inc *api.Incident) {
		inc.State, inc.Error, inc.ClosedAt = api.StateOpen, "", nil
		inc.CancelRequestedAt = nil
		forgetUndo(inc)
		if ph := inc.Phase(failed); ph != nil {
			ph.Messages = append(ph.Messages, "retried by an operator at "+now.UTC().Format(time.RFC3339))
		}
	})
	if err != nil {
		return inc, withKind(ErrUnavailable, err)
	}
	r.store.start(id)
	return inc, nil
}

// notRetryable says why an incident cannot be retried, and what helps.
func notRetryable(inc api.Incident) error {
	switch {
	case inc.State.Running():
		return fmt.Errorf("incident %s is still %s: wait for it to end", inc.ID, inc.State)
	case inc.State == api.StateNeedsAttention:
		return fmt.Errorf("incident %s needs attention, it did not fail: check the primary, acknowledge the incident, then run `vcrctl failover %s` (with --force to switch while the primary answers)", inc.ID, inc.Service)
	default:
		return fmt.Errorf("incident %s is %s: only a failed incident can be retried", inc.ID, inc.State)
	}
}
