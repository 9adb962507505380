package receiver

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

// fakeStore is an in-memory stand-in for the etcd keys of journal/etcd
// (the real backend is tested against etcd in journal/etcd and test/e2e):
// open slots, owners by lease, snapshot revisions and closes.
type fakeStore struct {
	mu        sync.Mutex
	revision  int64
	leases    int
	incidents map[string]api.Incident
	open      map[string]string // service -> incident
	owner     map[string]int    // incident -> lease
	closedRev map[string]int64
	closedID  map[string]string
	alerts    []journal.AlertRecord
	events    []journal.Event
	members   []*fakeCluster
}

func newFakeStore() *fakeStore {
	return &fakeStore{incidents: map[string]api.Incident{}, open: map[string]string{}, owner: map[string]int{},
		closedRev: map[string]int64{}, closedID: map[string]string{}}
}

type fakeCluster struct {
	s       *fakeStore
	name    string
	lease   int // 0: lost
	lost    chan struct{}
	changes chan struct{}
}

func (s *fakeStore) join(name string) *fakeCluster {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leases++
	f := &fakeCluster{s: s, name: name, lease: s.leases, lost: make(chan struct{}), changes: make(chan struct{}, 1)}
	s.members = append(s.members, f)
	return f
}

// expire ends f's lease as etcd would after a pause longer than the TTL.
// notify false: f's process has not noticed yet (it was frozen), so only
// the fencing of its writes stops it.
func (s *fakeStore) expire(f *fakeCluster, notify bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, l := range s.owner {
		if l == f.lease {
			delete(s.owner, id)
		}
	}
	f.lease = 0
	if notify {
		close(f.lost)
	}
	for _, m := range s.members {
		select {
		case m.changes <- struct{}{}:
		default:
		}
	}
}

func (f *fakeCluster) Replica() string { return f.name }

func (f *fakeCluster) Commit(ctx context.Context, b journal.Batch) error {
	return f.CommitClaims(ctx, b, nil)
}

func (f *fakeCluster) CommitClaims(_ context.Context, b journal.Batch, claims []journal.Claim) error {
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	opened, joins := map[string]bool{}, map[string]bool{}
	// Like journal/etcd, one failed check names every failed claim.
	var conflicts []*journal.ConflictError
	for _, c := range claims {
		if c.Join {
			joins[c.IncidentID] = true
			continue
		}
		conflict := &journal.ConflictError{Service: c.Service, Holder: s.open[c.Service], ClosedRev: s.closedRev[c.Service]}
		if conflict.ClosedRev != c.ClosedRev && conflict.ClosedRev != 0 {
			inc := s.incidents[s.closedID[c.Service]]
			conflict.Closed = &inc
		}
		if c.Open {
			if f.lease == 0 {
				return journal.ErrFenced
			}
			if conflict.Holder != "" || conflict.ClosedRev != c.ClosedRev {
				conflicts = append(conflicts, conflict)
			}
			opened[c.IncidentID] = true
		} else if conflict.Holder != c.IncidentID {
			conflicts = append(conflicts, conflict)
		}
	}
	if len(conflicts) > 0 {
		conflicts[0].Also = conflicts[1:]
		return conflicts[0]
	}
	var write []api.Incident
	for _, inc := range b.Incidents {
		if !opened[inc.ID] {
			l, ok := s.owner[inc.ID]
			owned := ok && f.lease != 0 && l == f.lease
			if stored, ok := s.incidents[inc.ID]; ok && stored.Revision >= inc.Revision && (owned || joins[inc.ID]) {
				continue
			}
			if !owned {
				return journal.ErrFenced
			}
		}
		write = append(write, inc)
	}
	s.revision++
	s.alerts = append(s.alerts, b.Alerts...)
	s.events = append(s.events, b.Events...)
	for _, inc := range write {
		s.incidents[inc.ID] = inc
		if opened[inc.ID] {
			s.open[inc.Service] = inc.ID
			s.owner[inc.ID] = f.lease
		}
		if !inc.State.Holds() {
			delete(s.open, inc.Service)
			delete(s.owner, inc.ID)
			s.closedRev[inc.Service], s.closedID[inc.Service] = s.revision, inc.ID
		}
	}
	return nil
}

func (f *fakeCluster) Incident(_ context.Context, id string) (api.Incident, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	inc, ok := f.s.incidents[id]
	if !ok {
		return inc, journal.ErrNotFound
	}
	return inc, nil
}

func (f *fakeCluster) Incidents(context.Context) ([]api.Incident, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	var out []api.Incident
	for _, inc := range f.s.incidents {
		out = append(out, inc)
	}
	journal.SortNewestFirst(out)
	return out, nil
}

func (f *fakeCluster) Alerts(context.Context, int) ([]journal.AlertRecord, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	return append([]journal.AlertRecord(nil), f.s.alerts...), nil
}

func (f *fakeCluster) Events(context.Context, int) ([]journal.Event, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	return append([]journal.Event(nil), f.s.events...), nil
}

func (f *fakeCluster) Close() error { return nil }

func (f *fakeCluster) Orphans(context.Context) ([]string, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	var out []string
	for _, id := range f.s.open {
		if l, ok := f.s.owner[id]; !ok || (f.lease != 0 && l == f.lease) {
			out = append(out, id)
		}
	}
	return out, nil
}

func (f *fakeCluster) Adopt(_ context.Context, id string) (api.Incident, bool, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	inc := f.s.incidents[id]
	if f.lease == 0 {
		return inc, false, journal.ErrFenced
	}
	if l, ok := f.s.owner[id]; (ok && l != f.lease) || f.s.open[inc.Service] != id {
		return inc, false, nil
	}
	f.s.owner[id] = f.lease
	return inc, true, nil
}

func (f *fakeCluster) Changes() <-chan struct{} { return f.changes }

func (f *fakeCluster) SessionLost() <-chan struct{} {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	return f.lost
}

func (f *fakeCluster) Renew(context.Context) error {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	f.s.leases++
	f.lease = f.s.leases
	f.lost = make(chan struct{})
	return nil
}

// replicas starts n receivers on one fake cluster, sharing the fakes so the
// counts are totals across replicas; each has its own metrics registry.
func replicas(t *testing.T, n int, strat *fakeStrategies, dns *fakeDNS) (*fakeStore, []*Receiver, []*prometheus.Registry) {
	t.Helper()
	return replicasWith(t, n, testConfig, strat, dns)
}

// replicasWith is replicas with the config cfgText.
func replicasWith(t *testing.T, n int, cfgText string, strat *fakeStrategies, dns *fakeDNS) (*fakeStore, []*Receiver, []*prometheus.Registry) {
	t.Helper()
	cfg, err := config.Parse([]byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	store := newFakeStore()
	var out []*Receiver
	var regs []*prometheus.Registry
	for i := range n {
		reg := prometheus.NewRegistry()
		r, err := New(Options{Config: cfg, Journal: store.join(string(rune('a' + i))), Fencer: &fakeFencer{}, Strategies: strat,
			Prober: &fakeProber{}, DNS: dns, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Registry: reg, Clock: &fastClock{}})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Shutdown(context.Background()) })
		out = append(out, r)
		regs = append(regs, reg)
	}
	return store, out, regs
}

func webhook(t *testing.T, labels map[string]string) *Message {
	t.Helper()
	msg, err := DecodeWebhook([]byte(payload("firing", labels)))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func waitStore(t *testing.T, s *fakeStore, what string, cond func(map[string]api.Incident) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		ok := cond(s.incidents)
		s.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("never %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func onlyIncident(incs map[string]api.Incident, state api.State) bool {
	for _, inc := range incs {
		return len(incs) == 1 && inc.State == state
	}
	return false
}

// TestClusterOneIncidentAcrossReplicas: three replicas get the same failure
// at once, many times, before and after the recovery: one incident, run by
// one replica, one Prepare and one switch.
func TestClusterOneIncidentAcrossReplicas(t *testing.T) {
	strat, dns := &fakeStrategies{}, &fakeDNS{}
	store, rs, _ := replicas(t, 3, strat, dns)
	storm := func() {
		var wg sync.WaitGroup
		for range 30 {
			for _, r := range rs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := r.Ingest(context.Background(), webhook(t, shutoffWeb)); err != nil {
						t.Errorf("ingest: %v", err)
					}
				}()
			}
		}
		wg.Wait()
	}
	storm()
	waitStore(t, store, "one resolved incident", func(m map[string]api.Incident) bool { return onlyIncident(m, api.StateResolved) })
	storm() // repeats after the recovery: every replica learns the service moved
	for _, r := range rs {
		r.Wait()
	}
	store.mu.Lock()
	n, alerts := len(store.incidents), len(store.alerts)
	var owner string
	for _, inc := range store.incidents {
		owner = inc.Owner
	}
	store.mu.Unlock()
	if p, _ := strat.counts(); n != 1 || p != 1 || dns.count() != 1 {
		t.Fatalf("incidents %d, prepares %d, switches %d; want 1 each", n, p, dns.count())
	}
	if owner == "" || alerts != 180 {
		t.Errorf("owner %q, %d alerts journaled; want an owner and 180", owner, alerts)
	}
	for i, r := range rs {
		if got := r.Services()[1]; got.Name != "web" || (r.own.Replica() == owner && got.Location != api.LocationStandby) {
			t.Errorf("replica %d: service %+v", i, got)
		}
	}
}

// TestClusterFencedOwnerStops: the owner's lease ends while its Prepare
// runs and it does not notice (frozen); b adopts and completes the
// incident, and when a's Prepare finally returns its next write is fenced:
// it writes and switches nothing.
func TestClusterFencedOwnerStops(t *testing.T) {
	strat, dns := &fakeStrategies{block: make(chan struct{}), started: make(chan struct{})}, &fakeDNS{}
	started := strat.started
	store, rs, regs := replicas(t, 2, strat, dns)
	ids, err := rs[0].Ingest(context.Background(), webhook(t, shutoffWeb))
	if err != nil || len(ids) != 1 {
		t.Fatalf("ingest: %v %v", ids, err)
	}
	<-started
	// The first Prepare stays blocked; the adopter's must not.
	strat.mu.Lock()
	block := strat.block
	strat.block = nil
	strat.mu.Unlock()
	store.mu.Lock()
	a := store.members[0]
	store.mu.Unlock()
	store.expire(a, false)
	waitStore(t, store, "the incident resolved by b", func(m map[string]api.Incident) bool {
		return m[ids[0]].State == api.StateResolved && m[ids[0]].Owner == "b"
	})
	close(block) // a's Prepare returns now, long after its lease ended
	rs[0].Wait()
	rs[1].Wait()
	held := rs[0].store.count()
	if held != 0 {
		t.Errorf("a still holds %d incidents after being fenced", held)
	}
	if p, _ := strat.counts(); dns.count() != 1 || p != 2 {
		t.Fatalf("%d switches and %d prepares, want 1 switch (the adopter's) and 2 prepares", dns.count(), p)
	}
	if err := testutil.GatherAndCompare(regs[1], strings.NewReader(`
# HELP vcr_receiver_takeovers_total Incidents this replica adopted after their owner's etcd lease expired.
# TYPE vcr_receiver_takeovers_total counter
vcr_receiver_takeovers_total 1
`), "vcr_receiver_takeovers_total"); err != nil {
		t.Errorf("b's takeovers, want 1: %v", err)
	}
	store.mu.Lock()
	inc := store.incidents[ids[0]]
	store.mu.Unlock()
	if inc.Owner == "" || inc.Phase(api.PhaseSwitch) == nil || inc.Phase(api.PhaseSwitch).Outcome != api.OutcomeOK {
		t.Errorf("incident = %+v", inc)
	}
}

// TestClusterSharesMaintenance: a window opened on one replica holds on the
// others once they read the journal (what watchMaintenance does every
// maintenanceRefresh), and so does its end; the alerts each declined add up.
func TestClusterSharesMaintenance(t *testing.T) {
	store, rs, _ := replicas(t, 2, &fakeStrategies{}, &fakeDNS{})
	ctx := context.Background()
	w, err := rs[0].StartMaintenance(ctx, api.MaintenanceRequest{Service: "web", Duration: "1h", Comment: "kernel update"})
	if err != nil {
		t.Fatal(err)
	}
	if err := rs[1].restoreMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	if ids, err := rs[1].Ingest(ctx, webhook(t, shutoffWeb)); err != nil || len(ids) != 0 {
		t.Fatalf("b opened %v (%v) inside a's window", ids, err)
	}
	if err := rs[0].restoreMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rs[0].Maintenance(); len(got) != 1 || got[0].DeclinedTotal != 1 {
		t.Fatalf("a's view of the window = %+v; want the alert b declined", got)
	}
	if _, err := rs[0].StopMaintenance(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	if err := rs[1].restoreMaintenance(ctx); err != nil {
		t.Fatal(err)
	}
	ids, err := rs[1].Ingest(ctx, webhook(t, shutoffWeb))
	if err != nil || len(ids) != 1 {
		t.Fatalf("after the window b opened %v (%v), want one incident", ids, err)
	}
	waitStore(t, store, "the incident resolved", func(m map[string]api.Incident) bool { return onlyIncident(m, api.StateResolved) })
}

// TestClusterLargeDeliveryLearnsEverySlot: replica a opened the incidents
// of a host's 40 services; the same host-wide alert then reaches replica b,
// which knows none of them. One conflict names every slot (Also), so b
// learns them all at once and joins the 40 incidents on its first retry,
// rather than learning one service per retry and answering 503 after five.
func TestClusterLargeDeliveryLearnsEverySlot(t *testing.T) {
	strat := &fakeStrategies{block: make(chan struct{})}
	defer close(strat.block)
	store, rs, _ := replicasWith(t, 2, fleetConfig(40, 0), strat, &fakeDNS{})
	hostDown := map[string]string{"alertname": "VCRHostHeartbeatLost", "host": "hv1", "_fp": "hb"}
	opened, err := rs[0].Ingest(context.Background(), webhook(t, hostDown))
	if err != nil || len(opened) != 40 {
		t.Fatalf("replica a: %d incidents, %v; want 40", len(opened), err)
	}
	joined, err := rs[1].Ingest(context.Background(), webhook(t, hostDown))
	if err != nil {
		t.Fatalf("replica b could not journal the delivery: %v", err)
	}
	slices.Sort(opened)
	slices.Sort(joined)
	if !slices.Equal(opened, joined) {
		t.Fatalf("replica b joined %d incidents, want a's 40", len(joined))
	}
	store.mu.Lock()
	n, alerts := len(store.incidents), len(store.alerts)
	store.mu.Unlock()
	if n != 40 || alerts != 80 {
		t.Fatalf("%d incidents and %d alert records, want 40 and 80", n, alerts)
	}
}

// TestClusterRaceOnLargeDelivery: three replicas get the same delivery
// naming 40 services at once, as Alertmanager sends it to each. Journaled
// part by part, every replica answers, and each service has one incident.
func TestClusterRaceOnLargeDelivery(t *testing.T) {
	strat := &fakeStrategies{block: make(chan struct{})}
	defer close(strat.block)
	store, rs, _ := replicasWith(t, 3, fleetConfig(40, 0), strat, &fakeDNS{})
	// One notification, as each replica gets it.
	body := payload("firing", map[string]string{"alertname": "VCRHostHeartbeatLost", "host": "hv1", "_fp": "hb"})
	var wg sync.WaitGroup
	for _, r := range rs {
		msg, err := DecodeWebhook([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ids, err := r.Ingest(context.Background(), msg); err != nil || len(ids) != 40 {
				t.Errorf("%s: %d incidents, %v; want 40", r.own.Replica(), len(ids), err)
			}
		}()
	}
	wg.Wait()
	store.mu.Lock()
	defer store.mu.Unlock()
	events := map[string]bool{}
	for _, inc := range store.incidents {
		events[inc.Event] = true
	}
	if len(store.incidents) != 40 || len(store.open) != 40 || len(store.alerts) != 120 || len(events) != 1 {
		t.Fatalf("%d incidents holding %d services, %d alert records, %d events; want 40, 40, 120 and one event",
			len(store.incidents), len(store.open), len(store.alerts), len(events))
	}
}
