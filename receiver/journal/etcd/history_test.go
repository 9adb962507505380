package etcd

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// record journals inc as the receiver would: opened through its service's
// slot, then, if its state no longer holds the service, closed.
func record(t *testing.T, j *Journal, inc api.Incident) {
	t.Helper()
	ctx := context.Background()
	closed, err := j.cli.Get(ctx, j.key("closed/", inc.Service))
	if err != nil {
		t.Fatal(err)
	}
	claim := journal.Claim{Service: inc.Service, IncidentID: inc.ID, Open: true}
	if len(closed.Kvs) > 0 {
		claim.ClosedRev = closed.Kvs[0].ModRevision
	}
	open := inc
	open.State, open.Revision = api.StateOpen, 1
	if err := j.CommitClaims(ctx, journal.Batch{Incidents: []api.Incident{open}}, []journal.Claim{claim}); err != nil {
		t.Fatal(err)
	}
	if inc.State != api.StateOpen {
		inc.Revision = 2
		if err := j.Commit(ctx, journal.Batch{Incidents: []api.Incident{inc}}); err != nil {
			t.Fatal(err)
		}
	}
}

func ended(id, svc string, opened time.Time, state api.State, switched bool) api.Incident {
	closed := opened.Add(time.Hour)
	inc := api.Incident{ID: id, Service: svc, State: state, Kind: api.KindFailover, OpenedAt: opened, ClosedAt: &closed}
	if switched {
		inc.DNS = &api.DNSChange{SwitchedAt: &closed}
	}
	return inc
}

func ids(incs []api.Incident) []string {
	var out []string
	for _, inc := range incs {
		out = append(out, inc.ID)
	}
	return out
}

func pageAll(t *testing.T, j *Journal, limit int) []string {
	t.Helper()
	var out []string
	for cursor := ""; ; {
		incs, next, err := j.IncidentsPage(context.Background(), limit, cursor)
		if err != nil {
			t.Fatal(err)
		}
		if len(incs) > limit {
			t.Fatalf("page of %d with limit %d", len(incs), limit)
		}
		out = append(out, ids(incs)...)
		if next == "" {
			return out
		}
		cursor = next
	}
}

// TestHistoryOnEtcd: pages list incidents in Incidents' order, a journal
// written before the index gets one at start, retention prunes what it may
// and nothing else, and the journal reads as before afterwards.
func TestHistoryOnEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs etcd")
	}
	ctx := context.Background()
	c := testenv.StartEtcdCluster(t, 1)
	prefix := "/" + t.Name() + "/"
	j := openWith(t, Options{Endpoints: c.Endpoints, Replica: "a", Prefix: prefix})
	now := time.Now().UTC().Truncate(time.Second)
	daysAgo := func(d int) time.Time { return now.AddDate(0, 0, -d) }

	for _, inc := range []api.Incident{
		ended("web-50", "web", daysAgo(50), api.StateResolved, true),
		ended("web-45", "web", daysAgo(45), api.StateResolved, true), // web's last: kept
		ended("db-55", "db", daysAgo(55), api.StateAcknowledged, false),
		ended("db-50", "db", daysAgo(50), api.StateAcknowledged, false), // db's last end: kept
		ended("db-40", "db", daysAgo(40), api.StateFailed, false),       // holds db: kept
		ended("mail-60", "mail", daysAgo(60), api.StateResolved, true),
		ended("mail-2", "mail", daysAgo(2), api.StateResolved, true), // young: kept
		ended("dns-9", "dns", daysAgo(9), api.StateResolved, true),
	} {
		record(t, j, inc)
	}
	// Ties of opening time list by ID, descending, as Incidents does.
	for _, id := range []string{"t-a", "t-ab", "t-b"} {
		record(t, j, api.Incident{ID: id, Service: "svc-" + id, State: api.StateOpen, OpenedAt: daysAgo(9)})
	}
	var b journal.Batch
	for d := 0; d < 50; d++ {
		b.Alerts = append(b.Alerts, journal.AlertRecord{ReceivedAt: daysAgo(49 - d), Status: "firing", Fingerprint: fmt.Sprint(d)})
		b.Events = append(b.Events, journal.Event{Time: daysAgo(49 - d), Kind: "test"})
	}
	if err := j.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}

	all, err := j.Incidents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := ids(all)
	for _, limit := range []int{1, 3, 100} {
		if got := pageAll(t, j, limit); !slices.Equal(got, want) {
			t.Fatalf("pages of %d = %v\nwant %v", limit, got, want)
		}
	}

	// Incidents journaled before the index existed, and an entry left by
	// an incident that is gone: the next start puts the index right.
	if _, err := j.cli.Delete(ctx, j.key("opened/"), clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	if _, err := j.cli.Put(ctx, j.openedKey(now, "gone"), "gone"); err != nil {
		t.Fatal(err)
	}
	j2 := openWith(t, Options{Endpoints: c.Endpoints, Replica: "b", Prefix: prefix})
	if got := pageAll(t, j2, 4); !slices.Equal(got, want) {
		t.Fatalf("pages after indexing = %v\nwant %v", got, want)
	}

	recent, err := j.RecentAlerts(ctx, 3)
	if err != nil || len(recent) != 3 || recent[0].Fingerprint != "49" || recent[2].Fingerprint != "47" {
		t.Fatalf("recent alerts = %+v %v", recent, err)
	}
	if all, err := j.RecentAlerts(ctx, 0); err != nil || len(all) != 50 || all[0].Fingerprint != "49" {
		t.Fatalf("all recent alerts = %d %v", len(all), err)
	}

	st, err := j.Prune(ctx, daysAgo(30))
	if err != nil {
		t.Fatal(err)
	}
	// The records of 49 to 31 days ago; the one of exactly 30 days ago stays.
	if st != (journal.PruneStats{Incidents: 3, Alerts: 19, Events: 19}) {
		t.Fatalf("pruned %+v", st)
	}
	left, err := j.Incidents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(left); !slices.Equal(got, []string{"mail-2", "t-b", "t-ab", "t-a", "dns-9", "db-40", "web-45", "db-50"}) {
		t.Fatalf("incidents after prune = %v", got)
	}
	if got := pageAll(t, j, 2); !slices.Equal(got, ids(left)) {
		t.Fatalf("pages after prune = %v", got)
	}
	if got := slots(t, j); len(got) != 4 || got["db"] != "db-40" {
		t.Fatalf("slots after prune = %v", got)
	}
	if alerts, _ := j.Alerts(ctx, 0); len(alerts) != 31 || alerts[0].Fingerprint != "19" {
		t.Fatalf("alerts after prune: %d, first %+v", len(alerts), alerts[0])
	}
	if again, err := j.Prune(ctx, daysAgo(30)); err != nil || again != (journal.PruneStats{}) {
		t.Fatalf("second prune deleted %+v %v", again, err)
	}
	expected := `
# HELP vcr_receiver_journal_pruned_total Records retention deleted from the journal, by kind (alerts, events, incidents).
# TYPE vcr_receiver_journal_pruned_total counter
vcr_receiver_journal_pruned_total{kind="alerts"} 19
vcr_receiver_journal_pruned_total{kind="events"} 19
vcr_receiver_journal_pruned_total{kind="incidents"} 3
# HELP vcr_receiver_journal_records Records in the journal, by kind (alerts, events, incidents).
# TYPE vcr_receiver_journal_records gauge
vcr_receiver_journal_records{kind="alerts"} 31
vcr_receiver_journal_records{kind="events"} 31
vcr_receiver_journal_records{kind="incidents"} 8
`
	if err := testutil.CollectAndCompare(j.Collector(), strings.NewReader(expected), "vcr_receiver_journal_pruned_total", "vcr_receiver_journal_records"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(j.Collector(), "vcr_receiver_journal_bytes"); n != 1 {
		t.Fatalf("journal bytes metrics: %d", n)
	}
}
