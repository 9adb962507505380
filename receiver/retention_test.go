package receiver

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// TestRetentionPrunesAndAPIStaysCorrect: a prune with a 1 ms retention
// deletes the old failover of web and the alert records, keeps what says
// where web runs (its failback) and db's failed incident that still holds
// its service; the API, the metrics and a restarted receiver still tell
// the truth.
func TestRetentionPrunesAndAPIStaysCorrect(t *testing.T) {
	h := newHarness(t, testConfig+"journal: {retention: 1ms}\n")
	ctx := context.Background()
	c := api.New(h.srv.URL, "")
	failover := openIncident(t, h, shutoffWeb)
	h.waitState(failover, api.StateResolved)
	h.r.Wait()
	back, _, err := manual(h, "web", api.KindFailback)
	if err != nil {
		t.Fatal(err)
	}
	h.waitState(back.ID, api.StateResolved)
	h.r.Wait()
	h.strat.mu.Lock()
	h.strat.err = errors.New("standby unreachable")
	h.strat.mu.Unlock()
	failed := openIncident(t, h, map[string]string{"alertname": "VCRDomainShutoff", "domain": "db01", "_fp": "db"})
	h.waitState(failed, api.StateFailed)
	h.r.Wait()

	time.Sleep(10 * time.Millisecond) // everything above is now older than the retention
	st, err := h.r.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Incidents != 1 || st.Alerts != 2 {
		t.Fatalf("pruned %+v, want web's old failover and both alert records", st)
	}
	check := func(when string) {
		t.Helper()
		incs, err := c.Incidents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, inc := range incs {
			ids = append(ids, inc.ID)
		}
		if len(incs) != 2 || !strings.Contains(strings.Join(ids, " "), back.ID) || !strings.Contains(strings.Join(ids, " "), failed) {
			t.Fatalf("%s: incidents %v, want the failback %s and the failed %s", when, ids, back.ID, failed)
		}
		if _, err := c.Incident(ctx, failover); err == nil || !strings.Contains(err.Error(), "404") {
			t.Fatalf("%s: pruned incident: %v, want 404", when, err)
		}
		svcs, err := c.Services(ctx)
		if err != nil {
			t.Fatal(err)
		}
		db, web := svcs[0], svcs[1]
		if web.Location != api.LocationPrimary || web.OpenIncident != "" || db.OpenIncident != failed {
			t.Fatalf("%s: services %+v, want web on its primary and db held by %s", when, svcs, failed)
		}
		page, next, err := c.IncidentsPage(ctx, 1, "")
		if err != nil || len(page) != 1 || page[0].ID != failed || next == "" {
			t.Fatalf("%s: first page %v (next %q, %v), want the failed incident and a cursor", when, page, next, err)
		}
		page, next, err = c.IncidentsPage(ctx, 1, next)
		if err != nil || len(page) != 1 || page[0].ID != back.ID || next != "" {
			t.Fatalf("%s: second page %v (next %q, %v), want the failback and no cursor", when, page, next, err)
		}
	}
	check("after the prune")
	if err := testutil.GatherAndCompare(h.registry, strings.NewReader(`
# HELP vcr_receiver_journal_pruned_total Records retention deleted from the journal, by kind (alerts, events, incidents).
# TYPE vcr_receiver_journal_pruned_total counter
vcr_receiver_journal_pruned_total{kind="alerts"} 2
vcr_receiver_journal_pruned_total{kind="events"} `+strconv.Itoa(st.Events)+`
vcr_receiver_journal_pruned_total{kind="incidents"} 1
`), "vcr_receiver_journal_pruned_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(h.registry, "vcr_receiver_journal_bytes", "vcr_receiver_journal_records"); err != nil || n != 4 {
		t.Errorf("journal size metrics: %d series (%v), want bytes and three record counts", n, err)
	}
	h.stop()
	h.start()
	c = api.New(h.srv.URL, "")
	check("after a restart")
	// A new failure of db joins its failed incident: still the one holding it.
	if id := openIncident(t, h, map[string]string{"alertname": "VCRDomainShutoff", "domain": "db01", "_fp": "db2"}); id != failed {
		t.Fatalf("db's new alert opened %s, want it to join %s", id, failed)
	}
}
