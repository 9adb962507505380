package ownership

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

// Etcd is Ownership for a journal shared by several replicas
// (journal.Cluster; journal/etcd in production). The journal decides: a
// service's slot is claimed in the same transaction that journals the
// opening alert, and every snapshot write is fenced on the writer's lease.
// Etcd only translates its answers into the two verdicts and counts
// takeovers.
type Etcd struct {
	cluster   journal.Cluster
	takeovers prometheus.Counter
}

var _ Ownership = (*Etcd)(nil)

// NewEtcd wraps c and registers the replica's ownership metrics on reg (nil:
// none); owned counts the incidents this replica holds.
func NewEtcd(c journal.Cluster, reg prometheus.Registerer, owned func() int) *Etcd {
	e := &Etcd{cluster: c, takeovers: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vcr_receiver_takeovers_total",
		Help: "Incidents this replica adopted after their owner's etcd lease expired.",
	})}
	ownedGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vcr_receiver_incidents_owned",
		Help: "Incidents holding their service that this replica owns (runs, or keeps until acknowledged).",
	}, func() float64 { return float64(owned()) })
	if reg != nil {
		reg.MustRegister(e.takeovers, ownedGauge)
	}
	return e
}

func (e *Etcd) Replica() string { return e.cluster.Replica() }

func (e *Etcd) Commit(ctx context.Context, b journal.Batch, claims []journal.Claim) error {
	return judge(e.cluster.CommitClaims(ctx, b, claims))
}

// CommitUnheld refuses: only an incident's owner writes it, and an incident
// this replica does not hold is not its own (a closed one has no owner
// left at all).
func (e *Etcd) CommitUnheld(_ context.Context, inc api.Incident) error {
	return &verdict{kind: ErrNotOwner, err: fmt.Errorf("incident %s: only its owner may write it: %w", inc.ID, journal.ErrFenced)}
}

// OwnsAtStart is always false: an incident that holds its service is its
// owner's until that owner's lease expires, even when the owner was this
// process before a restart.
func (e *Etcd) OwnsAtStart(api.Incident) bool { return false }

func (e *Etcd) Orphans(ctx context.Context) ([]string, error) {
	ids, err := e.cluster.Orphans(ctx)
	return ids, judge(err)
}

func (e *Etcd) Adopt(ctx context.Context, id string) (api.Incident, bool, error) {
	inc, ok, err := e.cluster.Adopt(ctx, id)
	if ok && err == nil {
		e.takeovers.Inc()
	}
	return inc, ok, judge(err)
}

func (e *Etcd) Changes() <-chan struct{}        { return e.cluster.Changes() }
func (e *Etcd) SessionLost() <-chan struct{}    { return e.cluster.SessionLost() }
func (e *Etcd) Renew(ctx context.Context) error { return e.cluster.Renew(ctx) }

// judge gives a shared journal's error its verdict: fenced means not the
// owner; a claim conflict, and a write over etcd's limits (which no retry
// fixes), stay as they are; anything else means etcd did not answer.
func judge(err error) error {
	var conflict *journal.ConflictError
	switch {
	case err == nil, errors.As(err, &conflict), errors.Is(err, journal.ErrTooLarge):
		return err
	case errors.Is(err, journal.ErrFenced):
		return &verdict{kind: ErrNotOwner, err: err}
	default:
		return &verdict{kind: ErrUnavailable, err: err}
	}
}
