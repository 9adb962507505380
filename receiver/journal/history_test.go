package journal

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	bolt "go.etcd.io/bbolt"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

var day0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// closedInc is an incident of svc opened on day d that ended the same day.
func closedInc(id, svc string, d int, state api.State, switched bool) api.Incident {
	opened := day0.AddDate(0, 0, d)
	closed := opened.Add(time.Hour)
	inc := api.Incident{ID: id, Service: svc, State: state, Kind: api.KindFailover, OpenedAt: opened, ClosedAt: &closed, Revision: 3}
	if switched {
		inc.DNS = &api.DNSChange{SwitchedAt: &closed}
	}
	return inc
}

func heads(incs ...api.Incident) []Head {
	var out []Head
	for _, inc := range incs {
		h := Head{ID: inc.ID, Service: inc.Service, State: inc.State, Kind: inc.Kind, OpenedAt: inc.OpenedAt, ClosedAt: inc.ClosedAt, AcknowledgedAt: inc.AcknowledgedAt, Revision: inc.Revision}
		if inc.DNS != nil {
			h.DNS = &struct {
				SwitchedAt *time.Time `json:"switched_at"`
			}{inc.DNS.SwitchedAt}
		}
		out = append(out, h)
	}
	return out
}

func TestExpired(t *testing.T) {
	ack := day0.AddDate(0, 0, 40)
	acked := closedInc("acked-late", "c", 1, api.StateAcknowledged, false)
	acked.AcknowledgedAt = &ack
	cutoff := day0.AddDate(0, 0, 30)
	for _, tc := range []struct {
		name string
		incs []api.Incident
		want []string
	}{
		{"old closed ones go, the newest of each service stays", []api.Incident{
			closedInc("a1", "a", 1, api.StateResolved, true),
			closedInc("a2", "a", 2, api.StateResolved, true),
			closedInc("a3", "a", 3, api.StateResolved, true),
		}, []string{"a1", "a2"}},
		{"an incident that holds its service stays, however old", []api.Incident{
			closedInc("f1", "f", 1, api.StateFailed, false),
			closedInc("n1", "f", 2, api.StateNeedsAttention, false),
			{ID: "o1", Service: "f", State: api.StateSwitching, OpenedAt: day0},
		}, nil},
		{"the last switch and the last resolve say where the service runs", []api.Incident{
			closedInc("s1", "s", 1, api.StateResolved, true),  // the last switch: kept
			closedInc("s2", "s", 2, api.StateResolved, false), // the last resolve: kept
			closedInc("s3", "s", 3, api.StateAcknowledged, false),
			closedInc("s4", "s", 4, api.StateAcknowledged, false), // the last end: kept
			closedInc("s0", "s", 0, api.StateResolved, true),
		}, []string{"s3", "s0"}},
		{"younger than the cutoff stays", []api.Incident{
			closedInc("y1", "y", 30, api.StateResolved, true),
			closedInc("y2", "y", 31, api.StateResolved, true),
		}, nil},
		{"acknowledged after the cutoff stays", []api.Incident{
			acked,
			closedInc("c2", "c", 2, api.StateAcknowledged, false),
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, h := range Expired(heads(tc.incs...), cutoff) {
				got = append(got, h.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("expired = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTimeKeyOrdersEveryTime(t *testing.T) {
	times := []time.Time{{}, time.Unix(-5, 0), time.Unix(0, 0), time.Unix(0, 1), day0, day0.Add(time.Nanosecond), day0.AddDate(300, 0, 0)}
	for i := 1; i < len(times); i++ {
		if string(TimeKey(times[i-1])) >= string(TimeKey(times[i])) {
			t.Fatalf("TimeKey(%v) does not sort before TimeKey(%v)", times[i-1], times[i])
		}
	}
}

func openTestBolt(t *testing.T) (*Bolt, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "j.db")
	j, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, path
}

// pageAll reads every incident page by page.
func pageAll(t *testing.T, h History, limit int) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for pages := 0; ; pages++ {
		incs, next, err := h.IncidentsPage(context.Background(), limit, cursor)
		if err != nil {
			t.Fatal(err)
		}
		if len(incs) > limit || pages > 1000 {
			t.Fatalf("page of %d with limit %d", len(incs), limit)
		}
		for _, inc := range incs {
			ids = append(ids, inc.ID)
		}
		if next == "" {
			return ids
		}
		cursor = next
	}
}

func incidentIDs(t *testing.T, j Journal) []string {
	t.Helper()
	incs, err := j.Incidents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, inc := range incs {
		ids = append(ids, inc.ID)
	}
	return ids
}

// TestBoltIncidentsPage: pages list incidents in Incidents' order, ties of
// opening time included, and a journal written before the index existed
// gets one when opened.
func TestBoltIncidentsPage(t *testing.T) {
	j, path := openTestBolt(t)
	ctx := context.Background()
	var b Batch
	for i := 0; i < 23; i++ {
		b.Incidents = append(b.Incidents, api.Incident{ID: fmt.Sprintf("i%02d", i), Service: "s", OpenedAt: day0.Add(time.Duration(i%7) * time.Minute), Revision: 1})
	}
	b.Incidents = append(b.Incidents, api.Incident{ID: "i0", Service: "s", Revision: 1}, api.Incident{ID: "i00x", Service: "s", OpenedAt: day0, Revision: 1})
	if err := j.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	want := incidentIDs(t, j)
	for _, limit := range []int{1, 5, 25, 100} {
		if got := pageAll(t, j, limit); !slices.Equal(got, want) {
			t.Fatalf("pages of %d = %v\nwant %v", limit, got, want)
		}
	}
	if incs, next, err := j.IncidentsPage(ctx, 3, ""); err != nil || len(incs) != 3 || next == "" || incs[0].ID != want[0] {
		t.Fatalf("first page = %d %q %v", len(incs), next, err)
	}

	// An older journal: no index. Opening it builds one.
	j.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketOpened) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	j, err = OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if got := pageAll(t, j, 4); !slices.Equal(got, want) {
		t.Fatalf("pages after indexing = %v\nwant %v", got, want)
	}
}

// TestBoltPrune: retention deletes old closed incidents and old records,
// keeps what holds a service or says where it runs, and the journal reads
// as before afterwards.
func TestBoltPrune(t *testing.T) {
	j, _ := openTestBolt(t)
	ctx := context.Background()
	b := Batch{Incidents: []api.Incident{
		closedInc("web-1", "web", 1, api.StateResolved, true),
		closedInc("web-2", "web", 2, api.StateResolved, true), // web's last: kept
		closedInc("db-1", "db", 1, api.StateFailed, false),    // holds db: kept
		closedInc("db-0", "db", 0, api.StateAcknowledged, false),
		closedInc("db-00", "db", -1, api.StateAcknowledged, false),
		closedInc("mail-40", "mail", 40, api.StateResolved, true), // young: kept
		closedInc("mail-3", "mail", 3, api.StateResolved, true),
	}}
	for d := 0; d < 50; d++ {
		at := day0.AddDate(0, 0, d)
		b.Alerts = append(b.Alerts, AlertRecord{ReceivedAt: at, Status: "firing", Fingerprint: fmt.Sprint(d)})
		b.Events = append(b.Events, Event{Time: at, Kind: "test"})
	}
	if err := j.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	st, err := j.Prune(ctx, day0.AddDate(0, 0, 30))
	if err != nil {
		t.Fatal(err)
	}
	if st != (PruneStats{Incidents: 3, Alerts: 30, Events: 30}) {
		t.Fatalf("pruned %+v", st)
	}
	if got := incidentIDs(t, j); !slices.Equal(got, []string{"mail-40", "web-2", "db-1", "db-0"}) {
		t.Fatalf("incidents after prune = %v", got)
	}
	if got := pageAll(t, j, 2); !slices.Equal(got, []string{"mail-40", "web-2", "db-1", "db-0"}) {
		t.Fatalf("pages after prune = %v", got)
	}
	alerts, _ := j.Alerts(ctx, 0)
	if len(alerts) != 20 || alerts[0].Fingerprint != "30" {
		t.Fatalf("alerts after prune: %d, first %+v", len(alerts), alerts[0])
	}
	recent, err := j.RecentAlerts(ctx, 3)
	if err != nil || len(recent) != 3 || recent[0].Fingerprint != "49" || recent[2].Fingerprint != "47" {
		t.Fatalf("recent alerts = %+v %v", recent, err)
	}
	if again, _ := j.Prune(ctx, day0.AddDate(0, 0, 30)); again != (PruneStats{}) {
		t.Fatalf("second prune deleted %+v", again)
	}
	expected := `
# HELP vcr_receiver_journal_pruned_total Records retention deleted from the journal, by kind (alerts, events, incidents).
# TYPE vcr_receiver_journal_pruned_total counter
vcr_receiver_journal_pruned_total{kind="alerts"} 30
vcr_receiver_journal_pruned_total{kind="events"} 30
vcr_receiver_journal_pruned_total{kind="incidents"} 3
# HELP vcr_receiver_journal_records Records in the journal, by kind (alerts, events, incidents).
# TYPE vcr_receiver_journal_records gauge
vcr_receiver_journal_records{kind="alerts"} 20
vcr_receiver_journal_records{kind="events"} 20
vcr_receiver_journal_records{kind="incidents"} 4
`
	if err := testutil.CollectAndCompare(j.Collector(), strings.NewReader(expected), "vcr_receiver_journal_pruned_total", "vcr_receiver_journal_records"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(j.Collector(), "vcr_receiver_journal_bytes"); n != 1 {
		t.Fatalf("journal bytes metrics: %d", n)
	}
}
