package receiver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
	"github.com/vcrcovery/vcrcovery/receiver/ownership"
)

// orphanPoll bounds how long an orphaned incident waits for adoption when
// the watch on owner keys missed its event (a member restart, a partition).
const orphanPoll = time.Second

// settleOpened ends the claims of incidents a delivery opened: kept if the
// write succeeded, forgotten otherwise; either way their waiters wake.
func (r *Receiver) settleOpened(ids []string, ok bool) {
	if !ok {
		r.dropOpened(ids)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if mi := r.incidents[id]; mi != nil && mi.claimed != nil {
			close(mi.claimed)
			mi.claimed = nil
		}
	}
}

// waitClaims waits until the deliveries that opened these incidents have
// claimed them; it fails if one of them could not.
func (r *Receiver) waitClaims(ctx context.Context, wait map[string]chan struct{}) error {
	for id, ch := range wait {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		r.mu.Lock()
		_, kept := r.incidents[id]
		r.mu.Unlock()
		if !kept {
			return fmt.Errorf("incident %s could not be opened; routing again", id)
		}
	}
	return nil
}

// dropOpened forgets incidents whose opening was not journaled: their slot
// was never claimed, so they must not linger and be joined.
func (r *Receiver) dropOpened(ids []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if mi := r.incidents[id]; mi != nil {
			delete(r.incidents, id)
			if r.open[mi.inc.Service] == id {
				delete(r.open, mi.inc.Service)
			}
			if mi.claimed != nil {
				close(mi.claimed)
				mi.claimed = nil
			}
		}
	}
	r.m.incidentsOpen.Set(float64(len(r.open)))
}

// learn applies what a failed claim revealed about a service.
func (r *Receiver) learn(c *journal.ConflictError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.stateLocked(c.Service); c.ClosedRev > st.closedRev {
		st.closedRev = c.ClosedRev
		if c.Closed != nil && c.Closed.State == api.StateResolved {
			r.applyLocationLocked(c.Closed)
		} else if c.Closed != nil && c.Closed.ClosedAt != nil {
			st.lastClosed = *c.Closed.ClosedAt
		}
	}
	switch {
	case c.Holder == "":
		delete(r.remote, c.Service)
	case r.incidents[c.Holder] == nil:
		r.remote[c.Service] = c.Holder
	}
}

// release forgets an incident this replica no longer owns.
func (r *Receiver) release(ctx context.Context, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	mi := r.incidents[id]
	if mi == nil {
		return
	}
	if own, ok := ctx.Value(runnerKey{}).(*memIncident); ok && own != mi {
		return // adopted again meanwhile; the new runner keeps it
	}
	delete(r.incidents, id)
	if r.open[mi.inc.Service] == id {
		delete(r.open, mi.inc.Service)
	}
	r.remote[mi.inc.Service] = id
	r.m.incidentsOpen.Set(float64(len(r.open)))
}

// watchOwnership adopts orphaned incidents as soon as an owner lease
// expires (or at the next poll), and starts over with a new session when
// this replica's own was lost. With a local journal nothing ever happens
// here.
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
	r.mu.Lock()
	r.runCancel()
	for id, mi := range r.incidents {
		r.remote[mi.inc.Service] = id
	}
	clear(r.incidents)
	clear(r.open)
	r.m.incidentsOpen.Set(0)
	r.runCtx, r.runCancel = context.WithCancel(r.ctx)
	r.mu.Unlock()
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
		r.mu.Lock()
		_, mine := r.incidents[id]
		r.mu.Unlock()
		if mine {
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
		r.mu.Lock()
		r.incidents[id] = &memIncident{inc: inc}
		r.open[inc.Service] = id
		if r.remote[inc.Service] == id {
			delete(r.remote, inc.Service)
		}
		r.m.incidentsOpen.Set(float64(len(r.open)))
		r.mu.Unlock()
		r.log.Info("took over incident", "incident", id, "service", inc.Service, "state", inc.State, "previous_owner", prev)
		if inc.State.Running() {
			r.startRunner(id)
		}
	}
}
