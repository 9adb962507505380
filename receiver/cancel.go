package receiver

import (
	"context"
	"errors"
	"fmt"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

// Cancel asks a running incident's recovery to stop. The request is
// journaled first, so it outlives a restart; the runner then stops at its
// next journaled point (the stage it is in is interrupted), has the
// strategy undo prepare if prepare had started, and ends the incident
// failed. Asking again while the request is pending changes nothing.
//
// Once the switch phase has begun a cancel is refused (ErrConflict):
// clients may already reach the new endpoint, and undoing it then would
// take the service down. An incident that is not running cannot be
// cancelled either (ErrConflict). Its other errors are ErrNotFound,
// ErrNotOwner (another replica runs it) and ErrUnavailable (nothing
// journaled).
func (r *Receiver) Cancel(ctx context.Context, id string) (api.Incident, error) {
	now := r.clock.Now()
	snap, held := r.store.snapshot(id)
	if !held {
		return cancelUnheld(ctx, r.opts.Journal, id)
	}
	if err := cancellable(snap); err != nil {
		return snap, withKind(ErrConflict, err)
	}
	if snap.CancelRequestedAt != nil {
		return snap, nil
	}
	// Decided again under the store's lock, where the runner's start of
	// the switch phase is journaled too: exactly one of the two goes first.
	var refused error
	ev := journal.Event{Time: now, Kind: "cancel", IncidentID: id, Service: snap.Service, Message: "requested through the API"}
	inc, err := r.store.update(ctx, id, nil, []journal.Event{ev}, func(inc *api.Incident) {
		if refused = cancellable(*inc); refused == nil && inc.CancelRequestedAt == nil {
			inc.CancelRequestedAt = &now
		}
	})
	switch {
	case errors.Is(err, ErrNotOwner):
		return inc, withKind(ErrNotOwner, fmt.Errorf("incident %s is no longer run by this replica: send the cancel to the replica running it (see its owner)", id))
	case err != nil:
		return inc, withKind(ErrUnavailable, fmt.Errorf("journal the cancel of %s: %w", id, err))
	case refused != nil:
		return inc, withKind(ErrConflict, refused)
	}
	r.store.pipeline.Cancel(id)
	r.log.Info("cancel requested by an operator", "incident", id, "service", inc.Service, "state", inc.State)
	return inc, nil
}

// forgetUndo readies an undone or cancelled incident for a retry. The
// abort phase goes, so that a later failure undoes the recovery again.
// When the abort undid prepare (Undone), prepare and the phases after it go
// too, and the endpoint with them, so that they run again: their records
// described a service the abort has since removed.
func forgetUndo(inc *api.Incident) {
	undone := inc.Undone()
	kept := inc.Phases[:0]
	for _, p := range inc.Phases {
		if p.Name == api.PhaseAbort || (undone && p.Name != api.PhaseDetect && p.Name != api.PhaseFence) {
			continue
		}
		kept = append(kept, p)
	}
	inc.Phases = kept
	if undone {
		inc.Endpoint = nil
	}
}

// cancellable says why an incident's recovery cannot be cancelled now, or
// nil if it can.
func cancellable(inc api.Incident) error {
	switch {
	case inc.State == api.StateAborting:
		return fmt.Errorf("incident %s is already being undone (%s): wait for it to end", inc.ID, inc.Error)
	case !inc.State.Running():
		return fmt.Errorf("incident %s is %s: there is no running recovery to cancel", inc.ID, inc.State)
	case inc.SwitchBegun():
		return fmt.Errorf("incident %s can no longer be cancelled: its DNS switch has started, so clients may already reach the new endpoint; "+
			"let it finish, then move the service back with a failback (or a drill) if needed", inc.ID)
	}
	return nil
}

// cancelUnheld answers a cancel of an incident this replica does not hold:
// one that ended, or one another replica runs.
func cancelUnheld(ctx context.Context, j journal.Journal, id string) (api.Incident, error) {
	inc, err := j.Incident(ctx, id)
	if errors.Is(err, journal.ErrNotFound) {
		return inc, withKind(ErrNotFound, fmt.Errorf("no incident %s: list them with GET /api/v1/incidents", id))
	}
	if err != nil {
		return inc, withKind(ErrUnavailable, err)
	}
	if inc.State.Running() && cancellable(inc) == nil {
		return inc, withKind(ErrNotOwner, fmt.Errorf("incident %s is run by replica %q: send the cancel to that replica", id, inc.Owner))
	}
	return inc, withKind(ErrConflict, cancellable(inc))
}
