package receiver

import (
	"context"
	"errors"

	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

// watchSlots keeps this replica's view of services it does not run current:
// which incident holds each service's slot (so the API names it and alerts
// join it) and, after every close, where the service runs and when its
// last recovery ended. Without it, a replica learns of another's incidents
// only when a claim of its own conflicts.
func (r *Receiver) watchSlots(w journal.SlotWatcher) {
	w.WatchSlots(r.ctx, func(s journal.Slot) { r.observeSlot(r.ctx, s) })
}

// observeSlot applies one service's slot as the shared journal holds it.
// A close newer than this replica knows is read from the journal, for the
// service's location; if that read fails the close is left for the next
// report (the slot's holder is still applied).
func (r *Receiver) observeSlot(ctx context.Context, s journal.Slot) {
	c := &journal.ConflictError{Service: s.Service, Holder: s.Holder}
	if r.store.closedBefore(s.Service, s.ClosedRev) && s.ClosedID != "" {
		inc, err := r.opts.Journal.Incident(ctx, s.ClosedID)
		switch {
		case err == nil:
			c.ClosedRev, c.Closed = s.ClosedRev, &inc
		case errors.Is(err, journal.ErrNotFound):
			c.ClosedRev = s.ClosedRev // pruned: nothing to learn from it
		default:
			r.log.Debug("read a closed incident for its service's location", "incident", s.ClosedID, "err", err)
		}
	}
	r.store.learn(c)
}
