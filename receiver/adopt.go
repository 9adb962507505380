package receiver

import (
	"context"
	"errors"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
	"github.com/vcrcovery/vcrcovery/receiver/ownership"
)

// orphanPoll bounds how long an orphaned incident waits for adoption when
// the watch on owner keys missed its event (a member restart, a partition).
const orphanPoll = time.Second

// watchOwnership adopts orphaned incidents as soon as an owner's lease
// expires (or at the next poll), and starts over with a new session when
// this replica's own was lost. With a local journal nothing ever happens
// here: there are no orphans and the session never ends.
func (r *Receiver) watchOwnership() {
	tick := time.NewTicker(orphanPoll)
	defer tick.Stop()
	lost := r.own.SessionLost()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-lost:
			r.sessionLost()
			lost = r.own.SessionLost()
		case <-r.own.Changes():
		case <-tick.C:
		}
		r.adoptOrphans()
	}
}

// sessionLost stops every pipeline of this replica: its lease is gone, so
// other replicas may already run its incidents. The journal would refuse
// their writes anyway (fencing); stopping them early keeps them from even
// calling plugins.
func (r *Receiver) sessionLost() {
	r.log.Warn("etcd lease lost: stopping this replica's pipelines; other replicas adopt their incidents")
	r.m.leaseLost.Inc()
	r.store.loseAll()
	for r.ctx.Err() == nil {
		ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		err := r.own.Renew(ctx)
		cancel()
		if err == nil {
			return
		}
		r.log.Warn("could not take a new etcd lease; retrying", "err", err)
		select {
		case <-r.ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// adoptOrphans takes over every open incident whose owner's lease expired
// and resumes it from its last journaled phase.
func (r *Receiver) adoptOrphans() {
	if r.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
	defer cancel()
	ids, err := r.own.Orphans(ctx)
	if err != nil {
		r.log.Debug("list orphaned incidents", "err", err)
		return
	}
	for _, id := range ids {
		if r.store.holds(id) {
			continue
		}
		inc, ok, err := r.own.Adopt(ctx, id)
		if err != nil {
			if !errors.Is(err, ownership.ErrNotOwner) {
				r.log.Warn("adopt orphaned incident", "incident", id, "err", err)
			}
			continue
		}
		if !ok {
			continue // another replica was faster
		}
		prev := inc.Owner
		inc.Owner = r.own.Replica()
		if !r.store.adopted(inc) {
			continue
		}
		r.log.Info("took over incident", "incident", id, "service", inc.Service, "state", inc.State, "previous_owner", prev)
		// The journal names the new owner at once, not at the pipeline's
		// next write (a failed incident may never have one).
		ev := journal.Event{Time: r.clock.Now(), Kind: "adopt", IncidentID: id, Service: inc.Service,
			Message: "adopted after the lease of its owner " + prev + " expired"}
		if _, err := r.store.update(ctx, id, nil, []journal.Event{ev}, func(inc *api.Incident) { inc.Owner = r.own.Replica() }); err != nil {
			r.log.Warn("could not journal the incident's new owner; its next write will", "incident", id, "err", err)
		}
		if inc.State.Running() {
			r.store.start(id)
		}
	}
}
