package ownership

import (
	"context"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

// Local is Ownership for a journal that one receiver runs alone (bbolt,
// locked to one process). That replica owns every incident: the slots it
// keeps in memory are the only ones, so claims are always granted, nothing
// is ever orphaned and its session never ends.
type Local struct {
	Journal journal.Journal
}

var _ Ownership = Local{}

// Replica is empty: with one replica there is no owner worth showing.
func (Local) Replica() string { return "" }

// Commit writes b; the claims need no check.
func (l Local) Commit(ctx context.Context, b journal.Batch, _ []journal.Claim) error {
	return l.Journal.Commit(ctx, b)
}

// CommitUnheld writes the snapshot: this replica is its only writer.
func (l Local) CommitUnheld(ctx context.Context, inc api.Incident) error {
	return l.Journal.Commit(ctx, journal.Batch{Incidents: []api.Incident{inc}})
}

// OwnsAtStart is always true: an incident the journal holds was this
// process's before its restart.
func (Local) OwnsAtStart(api.Incident) bool { return true }

func (Local) Orphans(context.Context) ([]string, error) { return nil, nil }

func (Local) Adopt(context.Context, string) (api.Incident, bool, error) {
	return api.Incident{}, false, nil
}

func (Local) Changes() <-chan struct{}     { return nil }
func (Local) SessionLost() <-chan struct{} { return nil }
func (Local) Renew(context.Context) error  { return nil }
