package receiver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

// Manual opens a failover drill or a failback of a service and starts its
// pipeline. Its errors are ErrNotFound (no such service), ErrConflict (the
// service has an open incident or is not where the run starts) and
// ErrUnavailable (nothing journaled).
func (r *Receiver) Manual(ctx context.Context, service string, kind api.Kind) (api.Incident, error) {
	cfg := r.Config()
	svc := cfg.Service(service)
	if svc == nil {
		return api.Incident{}, withKind(ErrNotFound, fmt.Errorf("no service %q in the configuration: list them with GET /api/v1/services", service))
	}
	now := r.clock.Now()
	r.mu.Lock()
	if id, ok := r.open[service]; ok || r.remote[service] != "" {
		if !ok {
			id = r.remote[service] + " (run by another replica)"
		}
		r.mu.Unlock()
		return api.Incident{}, withKind(ErrConflict, fmt.Errorf("service %s already has incident %s: wait for it or acknowledge it first", service, id))
	}
	loc := r.stateLocked(service).location
	if kind == api.KindDrill && loc != api.LocationPrimary {
		r.mu.Unlock()
		return api.Incident{}, withKind(ErrConflict, fmt.Errorf("service %s already runs on the %s: fail back first", service, loc))
	}
	reason := "drill"
	if kind == api.KindFailback {
		reason = "failback"
	}
	inc := api.Incident{
		ID: newIncidentID(now, service), Service: service, Strategy: svc.Strategy.Name,
		State: api.StateOpen, Reason: reason, Kind: kind, OpenedAt: now, Revision: 1,
		Phases: []api.Phase{{Name: api.PhaseDetect, StartedAt: now, EndedAt: &now, Outcome: api.OutcomeOK, Attempts: 1, Messages: []string{"requested through the API"}}},
	}
	inc.Owner = r.own.Replica()
	claims := []journal.Claim{{Service: service, IncidentID: inc.ID, Open: true, ClosedRev: r.stateLocked(service).closedRev}}
	r.incidents[inc.ID] = &memIncident{inc: inc}
	r.open[service] = inc.ID
	r.m.incidentsOpen.Set(float64(len(r.open)))
	r.mu.Unlock()
	ev := journal.Event{Time: now, Kind: reason, IncidentID: inc.ID, Service: service, Message: "requested through the API"}
	if err := r.commit(ctx, journal.Batch{Events: []journal.Event{ev}, Incidents: []api.Incident{clone(inc)}}, claims); err != nil {
		r.dropOpened([]string{inc.ID})
		var conflict *journal.ConflictError
		if errors.As(err, &conflict) {
			r.learn(conflict)
			return api.Incident{}, withKind(ErrConflict, fmt.Errorf("service %s: another replica changed its incidents meanwhile (%v); check GET /api/v1/services and retry", service, err))
		}
		return api.Incident{}, withKind(ErrUnavailable, fmt.Errorf("journal the %s: %w", reason, err))
	}
	r.afterCommit([]string{inc.ID})
	return inc, nil
}

// Acknowledge records that an operator has seen an incident. A failed or
// needs-attention incident becomes acknowledged, which frees its service
// for the next incident; a running one cannot be acknowledged (ErrConflict).
// Its other errors are ErrNotFound, ErrNotOwner (another replica runs it)
// and ErrUnavailable (nothing journaled).
func (r *Receiver) Acknowledge(ctx context.Context, id string) (api.Incident, error) {
	now := r.clock.Now()
	r.mu.Lock()
	mi := r.incidents[id]
	r.mu.Unlock()
	if mi == nil {
		inc, err := r.opts.Journal.Incident(ctx, id)
		if errors.Is(err, journal.ErrNotFound) {
			return inc, withKind(ErrNotFound, fmt.Errorf("no incident %s", id))
		}
		if err != nil {
			return inc, err
		}
		if inc.AcknowledgedAt != nil {
			return inc, nil
		}
		// Closed already (resolved), or run by another replica: note the
		// acknowledgement if this replica may write the incident.
		ack := inc
		ack.AcknowledgedAt = &now
		ack.Revision++
		start := time.Now()
		err = r.own.CommitUnheld(ctx, ack)
		r.m.journalWrite.Observe(time.Since(start).Seconds())
		switch {
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
	snap, ok := r.snapshot(id)
	if ok && snap.State.Running() {
		return snap, withKind(ErrConflict, fmt.Errorf("incident %s is still %s: wait for it to end", id, snap.State))
	}
	ev := journal.Event{Time: now, Kind: "acknowledge", IncidentID: id, Service: snap.Service}
	inc, err := r.update(ctx, id, []journal.Event{ev}, func(inc *api.Incident) {
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
