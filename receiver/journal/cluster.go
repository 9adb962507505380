package journal

import (
	"context"
	"errors"
	"fmt"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// ErrFenced means this replica no longer owns an incident it tried to write:
// its lease expired (a pause, a partition) and another replica may have taken
// the incident over. Nothing of the batch was written; the caller must stop
// acting on the incident, above all must not send its DNS switch.
var ErrFenced = errors.New("this replica lost ownership of the incident (its etcd lease expired); another replica resumes it")

// Cluster is a journal shared by several receiver replicas. Besides storing,
// it decides which replica runs each incident (ownership through an expiring
// lease) and holds each service's single open-incident slot, so the
// one-incident-per-service rule holds across replicas, not only inside one.
//
// Every incident snapshot Commit writes is fenced: it is written only if this
// replica still owns the incident under its current lease, else Commit
// returns ErrFenced and writes nothing.
type Cluster interface {
	Journal
	// Replica names this replica (shown as api.Incident.Owner).
	Replica() string
	// CommitClaims is Commit plus claims checked in the same transaction.
	// When a claim does not hold nothing is written and the error is a
	// *ConflictError saying what the service's slot holds now.
	CommitClaims(ctx context.Context, b Batch, claims []Claim) error
	// Orphans lists incidents that hold their service's slot while no
	// replica owns them (the owner's lease expired).
	Orphans(ctx context.Context) ([]string, error)
	// Adopt makes this replica the owner of an orphaned incident. ok is
	// false when another replica adopted it first or it no longer holds its
	// slot.
	Adopt(ctx context.Context, id string) (inc api.Incident, ok bool, err error)
	// Changes signals (coalesced) whenever an owner lease disappears, so
	// orphans are adopted without waiting for a poll.
	Changes() <-chan struct{}
	// SessionLost is closed when this replica's lease is lost. Every
	// incident it owned is then someone else's to adopt; Renew starts a new
	// lease (and a new SessionLost channel).
	SessionLost() <-chan struct{}
	Renew(ctx context.Context) error
}

// Claim is one check CommitClaims makes on a service's open slot.
type Claim struct {
	Service    string
	IncidentID string
	// Open: IncidentID is new and takes the slot, which must be free and
	// the service's last close must still be the one at ClosedRev (the
	// revision the replica's routing decision was based on; 0: none). The
	// replica becomes the incident's owner.
	// Not Open: the slot must still be held by IncidentID (an alert joining
	// an incident another replica owns).
	Open      bool
	ClosedRev int64
	// Join: IncidentID is this replica's own incident and the batch only
	// joins alerts to it. Its snapshot is dropped if a newer one is stored,
	// even when this replica no longer owns it (the pipeline closed or lost
	// it meanwhile): the alert records are what matter. Without Join a
	// stale snapshot of an incident this replica does not own is fenced, so
	// an old owner's pipeline can never mistake "stale" for "written".
	Join bool
}

// ConflictError says a claim failed: the slot of Service is held by Holder
// (empty: free), and the service's last close is at ClosedRev; Closed is
// that incident when ClosedRev differs from the claim's (nil otherwise).
type ConflictError struct {
	Service   string
	Holder    string
	ClosedRev int64
	Closed    *api.Incident
	// Also lists the batch's other claims that failed too, when the
	// backend found them in the same check, so the caller can learn every
	// changed slot before it routes the delivery again.
	Also []*ConflictError
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("service %s: open-incident slot changed (held by %q); retry with the current state", e.Service, e.Holder)
}

// Slot is what a shared journal holds for one service: the incident
// holding its open slot (empty: free), and its last close (the incident and
// the revision that closed it; empty and 0: never closed).
type Slot struct {
	Service   string
	Holder    string
	ClosedID  string
	ClosedRev int64
}

// SlotWatcher is a Cluster that reports changes to services' slots as they
// happen, so a replica that does not run an incident still knows within a
// second which incident holds a service and where the service runs.
type SlotWatcher interface {
	// WatchSlots calls fn with every service's slot, then with each slot
	// as it changes, until ctx ends. After a break (a member restart, a
	// compaction) it starts again with every slot. fn is never called
	// concurrently.
	WatchSlots(ctx context.Context, fn func(Slot))
}
