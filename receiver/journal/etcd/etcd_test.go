package etcd

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

func open(t *testing.T, endpoints []string, replica string) *Journal {
	t.Helper()
	j, err := Open(context.Background(), Options{Endpoints: endpoints, Prefix: "/" + t.Name() + "/", Replica: replica, LeaseTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// TestSharedJournal runs two replicas' journals on one real etcd: the open
// slot admits one incident per service, the other replica's claim conflicts
// and learns the holder, stale snapshots never roll back, a replica that
// lost its lease is fenced, and the survivor adopts the orphan.
func TestSharedJournal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs etcd")
	}
	ctx := context.Background()
	c := testenv.StartEtcdCluster(t, 1)
	a, b := open(t, c.Endpoints, "a"), open(t, c.Endpoints, "b")

	inc := api.Incident{ID: "i1", Service: "web", State: api.StateOpen, Revision: 1, Owner: "a"}
	alert := journal.AlertRecord{Status: "firing", Service: "web", IncidentID: "i1"}
	if err := a.CommitClaims(ctx, journal.Batch{Alerts: []journal.AlertRecord{alert}, Incidents: []api.Incident{inc}},
		[]journal.Claim{{Service: "web", IncidentID: "i1", Open: true}}); err != nil {
		t.Fatal(err)
	}
	// b opens its own incident for the same service at the same time: refused.
	err := b.CommitClaims(ctx, journal.Batch{Alerts: []journal.AlertRecord{alert}, Incidents: []api.Incident{{ID: "i2", Service: "web", Revision: 1}}},
		[]journal.Claim{{Service: "web", IncidentID: "i2", Open: true}})
	var conflict *journal.ConflictError
	if !errors.As(err, &conflict) || conflict.Holder != "i1" {
		t.Fatalf("second open: %v, want a conflict naming i1", err)
	}
	// b joins a's incident with its alert only.
	if err := b.CommitClaims(ctx, journal.Batch{Alerts: []journal.AlertRecord{alert}}, []journal.Claim{{Service: "web", IncidentID: "i1"}}); err != nil {
		t.Fatal(err)
	}
	// b may not write a's incident: fenced.
	if err := b.Commit(ctx, journal.Batch{Incidents: []api.Incident{{ID: "i1", Service: "web", Revision: 9}}}); !errors.Is(err, journal.ErrFenced) {
		t.Fatalf("non-owner write: %v, want ErrFenced", err)
	}
	// The owner's revisions only move forward.
	inc.Revision, inc.State = 3, api.StatePreparing
	if err := a.Commit(ctx, journal.Batch{Incidents: []api.Incident{inc}}); err != nil {
		t.Fatal(err)
	}
	old := inc
	old.Revision, old.State = 2, api.StateFencing
	if err := a.Commit(ctx, journal.Batch{Incidents: []api.Incident{old}, Events: []journal.Event{{Kind: "x"}}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Incident(ctx, "i1"); got.Revision != 3 || got.State != api.StatePreparing {
		t.Fatalf("stored %d %s, want revision 3 preparing", got.Revision, got.State)
	}
	if alerts, _ := b.Alerts(ctx, 0); len(alerts) != 2 {
		t.Fatalf("alerts = %d, want 2", len(alerts))
	}
	defer func() {
		if alerts, _ := b.Alerts(ctx, 0); len(alerts) != 3 {
			t.Errorf("alerts = %d at the end, want 3", len(alerts))
		}
		if evs, _ := b.Events(ctx, 0); len(evs) != 1 {
			t.Errorf("events = %d at the end, want 1 (nothing from the fenced writer)", len(evs))
		}
	}()
	if evs, _ := b.Events(ctx, 0); len(evs) != 1 {
		t.Fatalf("events = %d, want 1", len(evs))
	}

	// a's lease ends (as if it froze past its TTL): b adopts, a is fenced.
	if orphans, _ := b.Orphans(ctx); len(orphans) != 0 {
		t.Fatalf("orphans while a lives: %v", orphans)
	}
	a.mu.Lock()
	lease := a.session.Lease()
	a.mu.Unlock()
	if _, err := a.cli.Revoke(ctx, lease); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.Changes():
	case <-time.After(5 * time.Second):
		t.Fatal("no change signalled after the owner's lease ended")
	}
	orphans, err := b.Orphans(ctx)
	if err != nil || len(orphans) != 1 || orphans[0] != "i1" {
		t.Fatalf("orphans = %v %v, want [i1]", orphans, err)
	}
	got, ok, err := b.Adopt(ctx, "i1")
	if err != nil || !ok || got.Revision != 3 {
		t.Fatalf("adopt = %+v %v %v", got, ok, err)
	}
	inc.Revision, inc.State = 4, api.StateSwitching
	if err := a.Commit(ctx, journal.Batch{Incidents: []api.Incident{inc}}); !errors.Is(err, journal.ErrFenced) {
		t.Fatalf("write after the lease ended: %v, want ErrFenced", err)
	}
	// Not even a stale snapshot passes as "dropped, fine": the old owner's
	// pipeline must learn it is fenced.
	staleInc := inc
	staleInc.Revision = 2
	if err := a.Commit(ctx, journal.Batch{Incidents: []api.Incident{staleInc}, Events: []journal.Event{{Kind: "dns-update"}}}); !errors.Is(err, journal.ErrFenced) {
		t.Fatalf("stale write after the lease ended: %v, want ErrFenced", err)
	}
	// A delivery joining alerts to it may drop the stale snapshot.
	if err := a.CommitClaims(ctx, journal.Batch{Incidents: []api.Incident{staleInc}, Alerts: []journal.AlertRecord{alert}},
		[]journal.Claim{{Service: "web", IncidentID: "i1", Join: true}}); err != nil {
		t.Fatalf("stale join: %v, want its alert written", err)
	}
	<-a.SessionLost()
	if err := a.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(ctx, journal.Batch{Incidents: []api.Incident{inc}}); !errors.Is(err, journal.ErrFenced) {
		t.Fatalf("write with a new lease: %v, want ErrFenced (b owns it now)", err)
	}
	// b closes it: the slot is free, and a, which had not seen the close,
	// must learn it before opening the next one.
	inc.Revision, inc.State = 5, api.StateResolved
	if err := b.Commit(ctx, journal.Batch{Incidents: []api.Incident{inc}}); err != nil {
		t.Fatal(err)
	}
	err = a.CommitClaims(ctx, journal.Batch{Incidents: []api.Incident{{ID: "i3", Service: "web", Revision: 1}}}, []journal.Claim{{Service: "web", IncidentID: "i3", Open: true}})
	if !errors.As(err, &conflict) || conflict.Holder != "" || conflict.Closed == nil || conflict.Closed.ID != "i1" || conflict.ClosedRev == 0 {
		t.Fatalf("open after an unseen close: %v, want a conflict carrying closed i1", err)
	}
	if err := a.CommitClaims(ctx, journal.Batch{Incidents: []api.Incident{{ID: "i3", Service: "web", Revision: 1}}},
		[]journal.Claim{{Service: "web", IncidentID: "i3", Open: true, ClosedRev: conflict.ClosedRev}}); err != nil {
		t.Fatalf("open after learning the close: %v", err)
	}
	incs, _ := b.Incidents(ctx)
	if len(incs) != 2 {
		t.Fatalf("incidents = %d, want 2", len(incs))
	}
}
