package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// openWith opens a journal with o, below a prefix of the test's own.
func openWith(t *testing.T, o Options) *Journal {
	t.Helper()
	if o.Prefix == "" {
		o.Prefix = "/" + t.Name() + "/"
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = 10 * time.Second
	}
	j, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// at is when the tests' deliveries arrive.
var at = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// delivery is what the receiver commits for one webhook delivery whose
// alerts open one incident for each of n services (svc000, svc001, ...),
// plus extra alerts that matched no service.
func delivery(replica string, n, extra int, at time.Time) (journal.Batch, []journal.Claim) {
	var b journal.Batch
	var claims []journal.Claim
	for i := 0; i < n; i++ {
		svc := fmt.Sprintf("svc%03d", i)
		id := fmt.Sprintf("%s-%s", replica, svc)
		b.Incidents = append(b.Incidents, api.Incident{ID: id, Service: svc, State: api.StateOpen, OpenedAt: at, Revision: 1, Owner: replica})
		b.Alerts = append(b.Alerts, journal.AlertRecord{ReceivedAt: at, Status: "firing", Fingerprint: "f" + svc, Service: svc, IncidentID: id, Note: "opened incident"})
		claims = append(claims, journal.Claim{Service: svc, IncidentID: id, Open: true})
	}
	for i := 0; i < extra; i++ {
		b.Alerts = append(b.Alerts, journal.AlertRecord{ReceivedAt: at, Status: "firing", Fingerprint: fmt.Sprintf("x%04d", i), Note: "matches no configured service"})
	}
	return b, claims
}

// replicas starts etcd and opens two replicas, a and b, of one receiver
// group (one prefix).
func replicas(t *testing.T) (a, b *Journal) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs etcd")
	}
	c := testenv.StartEtcdCluster(t, 1)
	prefix := "/" + t.Name() + "/"
	return openWith(t, Options{Endpoints: c.Endpoints, Replica: "a", Prefix: prefix}),
		openWith(t, Options{Endpoints: c.Endpoints, Replica: "b", Prefix: prefix})
}

// openService has j open the incident of service i its own delivery would.
func openService(t *testing.T, j *Journal, i int, at time.Time) {
	t.Helper()
	b, claims := delivery(j.Replica(), i+1, 0, at)
	if err := j.CommitClaims(context.Background(), journal.Batch{Incidents: b.Incidents[i:]}, claims[i:]); err != nil {
		t.Errorf("%s opens %s: %v", j.Replica(), claims[i].Service, err)
	}
}

// slots returns every service's open slot: service -> incident.
func slots(t *testing.T, j *Journal) map[string]string {
	t.Helper()
	resp, err := j.cli.Get(context.Background(), j.key("open/"), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), j.key("open/"))] = string(kv.Value)
	}
	return out
}

func countAlerts(t *testing.T, j *Journal) int {
	t.Helper()
	alerts, err := j.Alerts(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(alerts)
}

// TestDeliveriesOfAnySize commits batches far beyond one etcd transaction to
// a real etcd with its default limits (128 operations, 1.5 MiB): each is
// split and fully written.
func TestDeliveriesOfAnySize(t *testing.T) {
	if testing.Short() {
		t.Skip("runs etcd")
	}
	ctx := context.Background()
	c := testenv.StartEtcdCluster(t, 1)

	t.Run("500 alerts", func(t *testing.T) {
		j := openWith(t, Options{Endpoints: c.Endpoints, Replica: "a"})
		b, claims := delivery("a", 40, 460, at)
		if err := j.CommitClaims(ctx, b, claims); err != nil {
			t.Fatal(err)
		}
		alerts, err := j.Alerts(ctx, 0)
		if err != nil || len(alerts) != 500 {
			t.Fatalf("alerts = %d %v, want 500", len(alerts), err)
		}
		for i, a := range alerts { // in the delivery's order
			if a.Fingerprint != b.Alerts[i].Fingerprint {
				t.Fatalf("alert %d is %s, want %s", i, a.Fingerprint, b.Alerts[i].Fingerprint)
			}
		}
		if got := slots(t, j); len(got) != 40 || got["svc039"] != "a-svc039" {
			t.Fatalf("slots = %v, want 40 held by a", got)
		}
	})

	t.Run("one alert matching 200 services", func(t *testing.T) {
		j := openWith(t, Options{Endpoints: c.Endpoints, Replica: "a"})
		b, claims := delivery("a", 200, 0, at)
		if err := j.CommitClaims(ctx, b, claims); err != nil {
			t.Fatal(err)
		}
		if got := slots(t, j); len(got) != 200 {
			t.Fatalf("%d slots held, want 200", len(got))
		}
		owners, err := j.cli.Get(ctx, j.key("owner/"), clientv3.WithPrefix())
		if err != nil || len(owners.Kvs) != 200 || clientv3.LeaseID(owners.Kvs[0].Lease) != j.lease() {
			t.Fatalf("owner keys = %d %v, want a to own all 200", len(owners.Kvs), err)
		}
		// All 200 end in one batch: five operations and three compares each.
		var closing journal.Batch
		for _, inc := range b.Incidents {
			inc.Revision, inc.State = 2, api.StateResolved
			closed := at.Add(time.Minute)
			inc.ClosedAt = &closed
			closing.Incidents = append(closing.Incidents, inc)
		}
		if err := j.Commit(ctx, closing); err != nil {
			t.Fatal(err)
		}
		if got := slots(t, j); len(got) != 0 {
			t.Fatalf("%d slots still held after closing all", len(got))
		}
		incs, err := j.Incidents(ctx)
		if err != nil || len(incs) != 200 || incs[0].State != api.StateResolved {
			t.Fatalf("incidents = %d %v", len(incs), err)
		}
	})

	t.Run("records of a mebibyte and more", func(t *testing.T) {
		j := openWith(t, Options{Endpoints: c.Endpoints, Replica: "a"})
		big := strings.Repeat("x", 50<<10)
		var b journal.Batch
		for i := 0; i < 21; i++ { // about 1 MiB in all
			b.Alerts = append(b.Alerts, journal.AlertRecord{ReceivedAt: at, Status: "firing", Fingerprint: fmt.Sprint(i), Labels: map[string]string{"big": big}})
		}
		// One record alone over the budget, still under etcd's limit.
		b.Events = append(b.Events, journal.Event{Time: at, Kind: "note", Message: strings.Repeat("y", 1200<<10)})
		if err := j.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
		if n := countAlerts(t, j); n != 21 {
			t.Fatalf("alerts = %d, want 21", n)
		}
		if evs, err := j.Events(ctx, 0); err != nil || len(evs) != 1 || len(evs[0].Message) != 1200<<10 {
			t.Fatalf("events = %d %v", len(evs), err)
		}
	})

	t.Run("a budget above etcd's limit says so", func(t *testing.T) {
		j := openWith(t, Options{Endpoints: c.Endpoints, Replica: "a", MaxTxnOps: 1000})
		b, claims := delivery("a", 30, 0, at)
		err := j.CommitClaims(ctx, b, claims)
		if !errors.Is(err, journal.ErrTooLarge) || errors.Is(err, journal.ErrUnavailable) ||
			!strings.Contains(err.Error(), "--max-txn-ops") || strings.Contains(err.Error(), "quorum") {
			t.Fatalf("commit over etcd's limit: %v, want ErrTooLarge naming --max-txn-ops", err)
		}
		if got := slots(t, j); len(got) != 0 {
			t.Fatalf("a refused transaction left slots: %v", got)
		}
	})
}

// TestSplitCommitConflictInTheMiddle: another replica takes a service's slot
// after the split commit checked its guards and wrote its first
// transactions. The commit fails with a ConflictError naming that service,
// takes back what it had opened, and the re-routed delivery then commits.
func TestSplitCommitConflictInTheMiddle(t *testing.T) {
	a, b := replicas(t)
	ctx := context.Background()

	batch, claims := delivery("a", 60, 100, at)
	writes := 0
	a.afterWrite = func() {
		if writes++; writes == 1 {
			openService(t, b, 45, at)
		}
	}
	err := a.CommitClaims(ctx, batch, claims)
	a.afterWrite = nil
	var conflict *journal.ConflictError
	if !errors.As(err, &conflict) || conflict.Service != "svc045" || conflict.Holder != "b-svc045" {
		t.Fatalf("commit = %v, want a conflict on svc045 held by b", err)
	}
	if writes < 1 {
		t.Fatal("the batch was not split")
	}
	if got := slots(t, a); len(got) != 1 || got["svc045"] != "b-svc045" {
		t.Fatalf("slots after the conflict = %v, want only b's svc045", got)
	}
	if n := countAlerts(t, a); n != 0 {
		t.Fatalf("%d alert records written by a failed commit", n)
	}
	if incs, _ := a.Incidents(ctx); len(incs) != 1 {
		t.Fatalf("incidents = %d, want b's only", len(incs))
	}

	// The receiver learns the holder and routes again: svc045's alert joins
	// b's incident, the others open theirs.
	batch.Incidents = append(batch.Incidents[:45:45], batch.Incidents[46:]...)
	claims[45] = journal.Claim{Service: "svc045", IncidentID: "b-svc045"}
	batch.Alerts[45].IncidentID, batch.Alerts[45].Note = "b-svc045", "joined the open incident (run by another replica)"
	if err := a.CommitClaims(ctx, batch, claims); err != nil {
		t.Fatal(err)
	}
	if got := slots(t, a); len(got) != 60 || got["svc044"] != "a-svc044" || got["svc045"] != "b-svc045" {
		t.Fatalf("slots = %v", got)
	}
	if n := countAlerts(t, a); n != 160 {
		t.Fatalf("alerts = %d, want 160", n)
	}
}

// TestConflictNamesEveryFailedClaim: a split commit whose guards already
// fail writes nothing and names every service that conflicts.
func TestConflictNamesEveryFailedClaim(t *testing.T) {
	a, b := replicas(t)
	openService(t, b, 10, at)
	openService(t, b, 50, at)
	batch, claims := delivery("a", 60, 0, at)
	err := a.CommitClaims(context.Background(), batch, claims)
	var conflict *journal.ConflictError
	if !errors.As(err, &conflict) || conflict.Service != "svc010" || len(conflict.Also) != 1 || conflict.Also[0].Service != "svc050" || conflict.Also[0].Holder != "b-svc050" {
		t.Fatalf("commit = %v (%+v), want conflicts on svc010 and svc050", err, conflict)
	}
	if got := slots(t, a); len(got) != 2 {
		t.Fatalf("slots = %v, want b's two only", got)
	}
}

// TestSplitCommitRetryAfterFailureHalfway: etcd loses its quorum between two
// transactions of a split commit, once while it takes the slots and once
// while it writes the records. The commit says the journal is unavailable;
// committing the same batch again once etcd is back takes back the slots it
// had already taken and writes every record exactly once.
func TestSplitCommitRetryAfterFailureHalfway(t *testing.T) {
	if testing.Short() {
		t.Skip("runs etcd")
	}
	ctx := context.Background()
	c := testenv.StartEtcdCluster(t, 3)
	// 60 services take three transactions of 20, then 360 records four.
	// The transaction that fails for want of a quorum may still be
	// committed once the members are back (its entry waits in the
	// leader's log), as any write that timed out: so what is there before
	// the retry is a range.
	for _, tc := range []struct {
		name          string
		failAfter     int
		slots, alerts [2]int
	}{
		{"while taking slots", 2, [2]int{40, 60}, [2]int{0, 0}},
		{"while writing records", 4, [2]int{60, 60}, [2]int{100, 200}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := openWith(t, Options{Endpoints: c.Endpoints, Replica: "a", RequestTimeout: 2 * time.Second, LeaseTTL: 30 * time.Second})
			batch, claims := delivery("a", 60, 300, at)
			writes := 0
			a.afterWrite = func() {
				if writes++; writes == tc.failAfter {
					c.Kill(1)
					c.Kill(2)
				}
			}
			err := a.CommitClaims(ctx, batch, claims)
			a.afterWrite = nil
			if !errors.Is(err, journal.ErrUnavailable) || !strings.Contains(err.Error(), "quorum") || errors.Is(err, journal.ErrTooLarge) {
				t.Fatalf("commit without quorum: %v, want ErrUnavailable", err)
			}
			c.Restart(1)
			c.Restart(2)
			c.WaitHealthy(30 * time.Second)

			if n := len(slots(t, a)); n < tc.slots[0] || n > tc.slots[1] {
				t.Fatalf("%d slots taken before the failure, want %v", n, tc.slots)
			}
			if n := countAlerts(t, a); n < tc.alerts[0] || n > tc.alerts[1] {
				t.Fatalf("%d alert records before the failure, want %v", n, tc.alerts)
			}
			if err := a.CommitClaims(ctx, batch, claims); err != nil {
				t.Fatalf("the same batch again: %v", err)
			}
			got := slots(t, a)
			for _, cl := range claims {
				if got[cl.Service] != cl.IncidentID {
					t.Fatalf("slot of %s = %q, want %s", cl.Service, got[cl.Service], cl.IncidentID)
				}
			}
			if n := countAlerts(t, a); n != 360 {
				t.Fatalf("alerts = %d, want 360: each exactly once", n)
			}
			if incs, _ := a.Incidents(ctx); len(incs) != 60 {
				t.Fatalf("incidents = %d, want 60", len(incs))
			}
			owners, err := a.cli.Get(ctx, a.key("owner/"), clientv3.WithPrefix())
			if err != nil || len(owners.Kvs) != 60 {
				t.Fatalf("owner keys = %d %v, want a to own all 60", len(owners.Kvs), err)
			}
		})
	}
}
