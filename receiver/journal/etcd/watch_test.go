package etcd

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// TestWatchSlots: replica b watches; it is told of the slot a service had
// before the watch began, of a's opening of an incident and of its close,
// each within a second.
func TestWatchSlots(t *testing.T) {
	if testing.Short() {
		t.Skip("runs etcd")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := testenv.StartEtcdCluster(t, 1)
	a, b := open(t, c.Endpoints, "a"), open(t, c.Endpoints, "b")
	openInc := func(id, svc string) {
		t.Helper()
		err := a.CommitClaims(ctx, journal.Batch{Incidents: []api.Incident{{ID: id, Service: svc, State: api.StateOpen, Revision: 1}}},
			[]journal.Claim{{Service: svc, IncidentID: id, Open: true}})
		if err != nil {
			t.Fatal(err)
		}
	}
	openInc("i0", "db") // before the watch
	var mu sync.Mutex
	seen := map[string]journal.Slot{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.WatchSlots(ctx, func(s journal.Slot) {
			mu.Lock()
			seen[s.Service] = s
			mu.Unlock()
		})
	}()
	wait := func(what string, ok func(map[string]journal.Slot) bool) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for {
			mu.Lock()
			good := ok(seen)
			mu.Unlock()
			if good {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("not within a second: %s (seen %+v)", what, seen)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait("db held by i0", func(m map[string]journal.Slot) bool { return m["db"].Holder == "i0" })
	openInc("i1", "web")
	wait("web held by i1", func(m map[string]journal.Slot) bool { return m["web"].Holder == "i1" })
	now := time.Now()
	closed := api.Incident{ID: "i1", Service: "web", State: api.StateResolved, Revision: 2, ClosedAt: &now}
	if err := a.Commit(ctx, journal.Batch{Incidents: []api.Incident{closed}}); err != nil {
		t.Fatal(err)
	}
	wait("web free, closed by i1", func(m map[string]journal.Slot) bool {
		s := m["web"]
		return s.Holder == "" && s.ClosedID == "i1" && s.ClosedRev > 0
	})
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("WatchSlots did not return when its context ended")
	}
}
