// Package ownership is the receiver's one answer to "who may act": which
// replica opens an incident, runs it and writes it, and how a service's
// single open-incident slot is claimed. Local serves a journal run by one
// replica (bbolt); Etcd serves a journal shared by several (journal.Cluster,
// with leases that decide and fence ownership). Ingest, manual actions and
// the pipeline call Ownership and never ask which one runs.
package ownership

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

// The two verdicts a write can get besides success and a claim conflict
// (*journal.ConflictError). Both carry the cause's own words.
var (
	// ErrNotOwner: this replica may not write the incident: its lease
	// expired, the incident was adopted again meanwhile, or another replica
	// runs it. The writer must stop acting on it, above all must not switch
	// DNS; whoever owns it resumes it.
	ErrNotOwner = errors.New("not the owner")
	// ErrUnavailable: a shared journal did not answer (no quorum, a
	// timeout). Nothing may be assumed written; the incident is handed back
	// and resumed once the journal answers. A local journal's failures never
	// carry this verdict: with no other replica to resume the incident, its
	// phase counts the failure as a failed attempt.
	ErrUnavailable = errors.New("journal unavailable")
)

// Ownership decides who may act on incidents and writes through the
// journal with that decision attached.
type Ownership interface {
	// Replica names this replica on the incidents it opens (empty when it
	// is the only one).
	Replica() string
	// Commit writes b atomically and durably, checking claims on services'
	// open slots in the same write. A claim that does not hold makes it
	// write nothing and return a *journal.ConflictError; a snapshot of an
	// incident this replica does not own makes it return ErrNotOwner.
	Commit(ctx context.Context, b journal.Batch, claims []journal.Claim) error
	// CommitUnheld writes a snapshot of an incident this replica does not
	// hold, such as an acknowledgement of a closed one. Only an incident's
	// owner writes it: where ownership is shared the answer is ErrNotOwner
	// without a write.
	CommitUnheld(ctx context.Context, inc api.Incident) error
	// OwnsAtStart says whether an incident that held its service when the
	// journal was loaded is this replica's to resume right away. Otherwise
	// it belongs to another replica (or to this one's previous lease) until
	// Orphans offers it for adoption.
	OwnsAtStart(inc api.Incident) bool
	// Orphans lists incidents that hold their service while no replica owns
	// them.
	Orphans(ctx context.Context) ([]string, error)
	// Adopt makes this replica the owner of an orphan; ok is false when
	// another replica was faster or the incident no longer holds its slot.
	Adopt(ctx context.Context, id string) (inc api.Incident, ok bool, err error)
	// Changes signals (coalesced) when an owner went away, so orphans are
	// adopted without waiting for a poll. Nil when that never happens.
	Changes() <-chan struct{}
	// SessionLost is closed when this replica lost every incident it owned
	// at once (its lease expired); Renew starts a new session and a new
	// SessionLost. Nil when that never happens.
	SessionLost() <-chan struct{}
	Renew(ctx context.Context) error
}

// New returns the Ownership that fits j: Etcd for a journal shared by
// replicas (journal.Cluster), Local otherwise. owned counts the incidents
// this replica holds, for the shared journal's metrics.
func New(j journal.Journal, reg prometheus.Registerer, owned func() int) Ownership {
	if c, ok := j.(journal.Cluster); ok {
		return NewEtcd(c, reg, owned)
	}
	return Local{Journal: j}
}

// verdict attaches ErrNotOwner or ErrUnavailable to an error without
// changing its words.
type verdict struct{ kind, err error }

func (v *verdict) Error() string   { return v.err.Error() }
func (v *verdict) Unwrap() []error { return []error{v.kind, v.err} }
