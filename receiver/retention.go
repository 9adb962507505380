package receiver

import (
	"context"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

// pruneFirstDelay is how long after Start the first prune waits (at most):
// loading the journal and resuming incidents go first.
const pruneFirstDelay = 10 * time.Second

// pruneTimeout bounds one prune; what it deleted before stays deleted.
const pruneTimeout = 5 * time.Minute

// history is the journal's retention and paging side, when it has one
// (both backends do; a journal that does not keeps everything).
func (r *Receiver) history() (journal.History, bool) {
	h, ok := r.opts.Journal.(journal.History)
	return h, ok
}

// retention is how long closed incidents, alerts and events are kept.
func (r *Receiver) retention() time.Duration {
	if d := r.Config().Journal.Retention; d > 0 {
		return d
	}
	return journal.DefaultRetention
}

// pruneLoop prunes the journal shortly after start, then every
// journal.prune_interval (read again each time, so a reload applies). Every
// replica of a group may run it: the journal's deletes are guarded and
// idempotent.
func (r *Receiver) pruneLoop() {
	t := time.NewTimer(min(pruneFirstDelay, r.Config().Journal.PruneInterval))
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		_, _ = r.Prune(r.ctx)
		t.Reset(r.Config().Journal.PruneInterval)
	}
}

// Prune deletes from the journal what journal.retention no longer keeps:
// incidents closed before the cutoff (never one that holds its service or
// says where a service runs), and older alert records and events.
func (r *Receiver) Prune(ctx context.Context) (journal.PruneStats, error) {
	h, ok := r.history()
	if !ok {
		return journal.PruneStats{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, pruneTimeout)
	defer cancel()
	before := r.clock.Now().Add(-r.retention())
	start := time.Now()
	st, err := h.Prune(ctx, before)
	if err != nil {
		r.log.Warn("journal prune stopped; the next one continues", "err", err, "before", before,
			"incidents", st.Incidents, "alerts", st.Alerts, "events", st.Events)
		return st, err
	}
	r.log.Info("journal pruned", "before", before, "incidents", st.Incidents, "alerts", st.Alerts, "events", st.Events,
		"took", time.Since(start).Round(time.Millisecond))
	return st, nil
}
