package receiver

import (
	"context"
	"errors"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

// eventPage is how many more incidents each read takes while finishing a
// mass event cut by the end of a page.
const eventPage = 200

// RecentIncidents returns the newest limit incidents and every incident
// that still holds its service, newest first. With a journal that keeps
// history (journal.History) it reads one page of it plus the open
// incidents, never the whole history, so the status page costs the same
// after a year as after a day. A mass event is never cut in two: the
// incidents one delivery opened share their opening time, so they are
// adjacent, and a page ending inside one reads on until it is whole.
func (r *Receiver) RecentIncidents(ctx context.Context, limit int) ([]api.Incident, error) {
	h, ok := r.history()
	if !ok || limit <= 0 {
		return r.opts.Journal.Incidents(ctx)
	}
	incs, next, err := h.IncidentsPage(ctx, limit, "")
	if err != nil {
		return nil, err
	}
	for next != "" && len(incs) > 0 && incs[len(incs)-1].Event != "" {
		event := incs[len(incs)-1].Event
		more, n, err := h.IncidentsPage(ctx, eventPage, next)
		if err != nil {
			return nil, err
		}
		cut := len(more)
		for i, inc := range more {
			if inc.Event != event {
				cut = i
				break
			}
		}
		incs = append(incs, more[:cut]...)
		if cut < len(more) {
			break
		}
		next = n
	}
	seen := make(map[string]bool, len(incs))
	for _, inc := range incs {
		seen[inc.ID] = true
	}
	// Open incidents older than the page: held ones from memory, the ones
	// other replicas run from the journal.
	held, remote := r.store.openIDs()
	for _, id := range held {
		if snap, ok := r.store.snapshot(id); ok && !seen[id] {
			incs = append(incs, snap)
			seen[id] = true
		}
	}
	for _, id := range remote {
		if seen[id] {
			continue
		}
		inc, err := r.opts.Journal.Incident(ctx, id)
		if errors.Is(err, journal.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		incs = append(incs, inc)
		seen[id] = true
	}
	journal.SortNewestFirst(incs)
	return incs, nil
}
