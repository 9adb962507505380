package etcd

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

// TestJournalSurvivesCompaction: etcd in production compacts its history
// (deploy/ha/etcd-*.yml: auto-compaction), or a database that keeps every
// revision fills etcd's quota. The journal reads only current keys and
// compares modification revisions, which compaction keeps: after a
// compaction at the head, a replica's watch still reports changes, a
// freed slot can be claimed again with the revision the watch reported,
// a stale claim still conflicts, and the history is whole.
func TestJournalSurvivesCompaction(t *testing.T) {
	a, b := replicas(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	batch, claims := delivery("a", 20, 5, at)
	if err := a.CommitClaims(ctx, batch, claims); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]journal.Slot{}
	go b.WatchSlots(ctx, func(s journal.Slot) {
		mu.Lock()
		seen[s.Service] = s
		mu.Unlock()
	})
	slot := func(svc string, ok func(journal.Slot) bool) journal.Slot {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			s := seen[svc]
			mu.Unlock()
			if ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: slot %+v", svc, s)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	slot("svc000", func(s journal.Slot) bool { return s.Holder == "a-svc000" })

	head, err := a.cli.Get(ctx, a.key("open/"), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.cli.Compact(ctx, head.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}

	closedAt := at.Add(time.Minute)
	closed := batch.Incidents[0]
	closed.State, closed.Revision, closed.ClosedAt = api.StateResolved, 2, &closedAt
	if err := a.Commit(ctx, journal.Batch{Incidents: []api.Incident{closed}}); err != nil {
		t.Fatalf("close after the compaction: %v", err)
	}
	free := slot("svc000", func(s journal.Slot) bool { return s.Holder == "" && s.ClosedID == "a-svc000" && s.ClosedRev > 0 })

	stale := journal.Claim{Service: "svc000", IncidentID: "b-stale", Open: true, ClosedRev: free.ClosedRev - 1}
	reopen := api.Incident{ID: "b-svc000", Service: "svc000", State: api.StateOpen, OpenedAt: closedAt, Revision: 1, Owner: "b"}
	if err := b.CommitClaims(ctx, journal.Batch{Incidents: []api.Incident{{ID: "b-stale", Service: "svc000", State: api.StateOpen, Revision: 1}}}, []journal.Claim{stale}); !errors.As(err, new(*journal.ConflictError)) {
		t.Errorf("a claim with a revision older than the slot's close, after the compaction: %v, want a conflict", err)
	}
	if err := b.CommitClaims(ctx, journal.Batch{Incidents: []api.Incident{reopen}},
		[]journal.Claim{{Service: "svc000", IncidentID: "b-svc000", Open: true, ClosedRev: free.ClosedRev}}); err != nil {
		t.Fatalf("claim of the freed slot after the compaction: %v", err)
	}
	slot("svc000", func(s journal.Slot) bool { return s.Holder == "b-svc000" })

	incs, err := b.Incidents(ctx)
	if err != nil || len(incs) != 21 {
		t.Fatalf("after the compaction: %d incidents (%v), want the 20 opened and the reopening", len(incs), err)
	}
	if n := countAlerts(t, b); n != 25 {
		t.Errorf("after the compaction: %d alerts, want 25", n)
	}
}
