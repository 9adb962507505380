package journal

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

func TestBoltRoundTripAndRevisions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	j, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	inc := api.Incident{ID: "web-1", Service: "web", State: api.StateOpen, OpenedAt: t0, Revision: 2}
	err = j.Commit(ctx, Batch{
		Alerts:    []AlertRecord{{Status: "firing", Fingerprint: "f1"}, {Status: "firing", Fingerprint: "f2"}},
		Events:    []Event{{Kind: "test"}},
		Incidents: []api.Incident{inc},
	})
	if err != nil {
		t.Fatal(err)
	}
	// An older revision must not overwrite a newer one.
	stale := inc
	stale.State, stale.Revision = api.StateFailed, 1
	if err := j.Commit(ctx, Batch{Incidents: []api.Incident{stale}}); err != nil {
		t.Fatal(err)
	}
	newer := inc
	newer.State, newer.Revision = api.StateResolved, 3
	other := api.Incident{ID: "db-1", Service: "db", OpenedAt: t0.Add(time.Minute), Revision: 1}
	if err := j.Commit(ctx, Batch{Incidents: []api.Incident{newer, other}}); err != nil {
		t.Fatal(err)
	}
	j.Close()

	j, err = OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	got, err := j.Incident(ctx, "web-1")
	if err != nil || got.State != api.StateResolved || got.Revision != 3 {
		t.Fatalf("Incident = %+v, %v; want resolved rev 3", got, err)
	}
	if _, err := j.Incident(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing incident error = %v", err)
	}
	all, err := j.Incidents(ctx)
	if err != nil || len(all) != 2 || all[0].ID != "db-1" {
		t.Fatalf("Incidents = %+v, %v; want db-1 first", all, err)
	}
	alerts, err := j.Alerts(ctx, 0)
	if err != nil || len(alerts) != 2 || alerts[1].Fingerprint != "f2" {
		t.Fatalf("Alerts = %+v, %v", alerts, err)
	}
	if ev, _ := j.Events(ctx, 0); len(ev) != 1 {
		t.Fatalf("Events = %+v", ev)
	}
}

func TestBoltLockedFileFailsClearly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	j, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := OpenBolt(path); err == nil {
		t.Fatal("second open of a locked journal succeeded")
	}
}

func TestBoltConcurrentCommits(t *testing.T) {
	j, err := OpenBolt(filepath.Join(t.TempDir(), "j.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := j.Commit(context.Background(), Batch{Alerts: []AlertRecord{{Status: "firing"}}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if a, _ := j.Alerts(context.Background(), 0); len(a) != 200 {
		t.Fatalf("journaled %d alerts, want 200", len(a))
	}
}
