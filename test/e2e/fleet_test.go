package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/test/system"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// TestFleet fails whole hosts and clouds at once: real receivers (one on
// bbolt, or three on etcd), the example strategy's plugin process and
// named behind a counter of UPDATEs. Every service must be recovered
// exactly once: one prepare and one UPDATE each.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: runs named, etcd and receivers")
	}
	var ec *testenv.EtcdCluster
	etcd := func() *testenv.EtcdCluster {
		if ec == nil {
			ec = testenv.StartEtcdCluster(t, 3)
		}
		return ec
	}

	t.Run("host down, 50 services, one receiver", func(t *testing.T) {
		f := system.StartFleet(t, system.FleetOptions{Services: 50})
		hostDown(t, f, 50, system.Down(time.Now(), "VCRHostHeartbeatLost", map[string]string{"host": "hv0"}), "host hv0")
	})

	t.Run("host down, 50 services, three receivers", func(t *testing.T) {
		f := system.StartFleet(t, system.FleetOptions{Services: 50, Replicas: 3, Etcd: etcd()})
		hostDown(t, f, 50, system.Down(time.Now(), "VCRHostHeartbeatLost", map[string]string{"host": "hv0"}), "host hv0")
	})

	t.Run("cloud down across 3 hosts", func(t *testing.T) {
		f := system.StartFleet(t, system.FleetOptions{Services: 30, Hosts: 3})
		hostDown(t, f, 30, system.Down(time.Now(), "VCRCloudDown", map[string]string{"cloud": "c1"}), "cloud c1")
	})

	t.Run("one delivery of 500 alerts, three receivers", func(t *testing.T) {
		// Alertmanager groups a host's alerts into one delivery: 500
		// VCRDomainShutoff alerts, one per service, to every replica.
		f := system.StartFleet(t, system.FleetOptions{Services: 500, Replicas: 3, Etcd: etcd()})
		var labels []map[string]string
		for _, s := range f.Services {
			labels = append(labels, map[string]string{"domain": "dom-" + s, "host": "hv0"})
		}
		hostDown(t, f, 500, system.Down(time.Now(), "VCRDomainShutoff", labels...), "host hv0")
	})
}

// hostDown posts body to every receiver at once, as Alertmanager sends to
// each, and checks that n services were recovered exactly once, as one mass
// event of the given scope.
func hostDown(t *testing.T, f *system.Fleet, n int, body, scope string) {
	t.Helper()
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := range f.Receivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Alertmanager retries a 5xx; no delivery may need it here.
			if code, msg := f.Post(i, body); code != 200 {
				t.Errorf("receiver %d answered %d: %s", i, code, msg)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	incs := f.WaitEnded(t, 0, n, t0.Add(-time.Second), 3*time.Minute)
	var last time.Time
	for _, inc := range incs {
		if inc.State != api.StateResolved {
			t.Errorf("%s: incident %s ended %s: %s", inc.Service, inc.ID, inc.State, inc.Error)
		}
		if inc.DNS != nil && inc.DNS.SwitchedAt != nil && inc.DNS.SwitchedAt.After(last) {
			last = *inc.DNS.SwitchedAt
		}
	}
	prepares, updates := f.Prepares(), f.DNS.Updates()
	var bad []string
	for _, s := range f.Services[:n] {
		if prepares[s] != 1 || updates[s+"."+system.Zone] != 1 {
			bad = append(bad, fmt.Sprintf("%s (%d prepares, %d UPDATEs)", s, prepares[s], updates[s+"."+system.Zone]))
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d services not recovered exactly once: %s", len(bad), strings.Join(bad, ", "))
		for _, r := range f.Receivers {
			t.Logf("%s log tail:\n%s", r.Name, r.Proc.Tail(15))
		}
	}
	// Every replica shows one mass event with every incident resolved.
	for i, r := range f.Receivers {
		deadline := time.Now().Add(10 * time.Second)
		for {
			events, err := r.Client.Events(context.Background())
			ok := err == nil && len(events) == 1 && len(events[0].Incidents) == n && events[0].States[api.StateResolved] == n
			if ok && events[0].Scope != scope {
				t.Errorf("receiver %d: event scope %q, want %q", i, events[0].Scope, scope)
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("receiver %d: events %+v (%v), want one of %d resolved incidents", i, summarizeEvents(events), err, n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("%d services: alert to last switch %s", n, last.Sub(t0).Round(time.Millisecond))
}

func summarizeEvents(evs []api.MassEvent) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "[%s %s: %d incidents %v] ", e.ID, e.Scope, len(e.Incidents), e.States)
	}
	return b.String()
}

// TestHAConverges: three receivers on etcd; replica r0 runs every incident.
// The others report what r0 does within 2 s, through the journal's watch:
// the open slot, the new location after the switch, the slot freed by an
// acknowledgement. When r0 dies, the adopter records itself as the owner
// at once, even for a failed incident no pipeline writes again.
func TestHAConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: runs etcd, named and three receivers")
	}
	f := system.StartFleet(t, system.FleetOptions{Services: 2, Replicas: 3, Etcd: testenv.StartEtcdCluster(t, 3),
		PrepareSleep: 2 * time.Second, FailPrepare: []string{"s001"}})
	ctx := context.Background()
	within := func(i int, what string, d time.Duration, ok func(api.ServiceStatus, api.ServiceStatus) bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			svcs, err := f.Receivers[i].Client.Services(ctx)
			if err == nil && len(svcs) == 2 && ok(svcs[0], svcs[1]) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica r%d: not within %s: %s (services %+v, %v)", i, d, what, svcs, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	down := func(service string) string {
		t.Helper()
		code, body := f.Post(0, system.Down(time.Now(), "VCRDomainShutoff", map[string]string{"domain": "dom-" + service}))
		if code != 200 {
			t.Fatalf("r0 answered %d: %s", code, body)
		}
		var ar api.AlertsResponse
		if err := jsonUnmarshal(body, &ar); err != nil || len(ar.Incidents) != 1 {
			t.Fatalf("answer %s (%v)", body, err)
		}
		return ar.Incidents[0]
	}

	id := down("s000")
	for _, i := range []int{1, 2} {
		within(i, "s000 held by "+id, 2*time.Second, func(s0, _ api.ServiceStatus) bool { return s0.OpenIncident == id })
	}
	inc := f.WaitEnded(t, 0, 1, time.Now().Add(-time.Minute), time.Minute)[0]
	if inc.State != api.StateResolved || inc.Owner != "r0" {
		t.Fatalf("incident %+v, want resolved by r0", inc)
	}
	for _, i := range []int{1, 2} {
		within(i, "s000 on the standby", 2*time.Second, func(s0, _ api.ServiceStatus) bool {
			return s0.Location == api.LocationStandby && s0.OpenIncident == "" && s0.CurrentAddress == "127.0.0.1"
		})
	}

	failed := down("s001")
	within(1, "s001 held by "+failed, 2*time.Second, func(_, s1 api.ServiceStatus) bool { return s1.OpenIncident == failed })
	waitState(t, f, 1, failed, api.StateFailed, time.Minute)
	if _, err := f.Receivers[0].Client.Acknowledge(ctx, failed); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 2} {
		within(i, "s001 free after the acknowledgement", 2*time.Second, func(_, s1 api.ServiceStatus) bool { return s1.OpenIncident == "" })
	}

	// A failed incident holds s001 again; its owner r0 dies.
	failed = down("s001")
	waitState(t, f, 1, failed, api.StateFailed, time.Minute)
	f.Receivers[0].Proc.Kill()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, err := f.Receivers[1].Client.Incident(ctx, failed)
		if err == nil && got.Owner != "r0" && got.Owner != "" {
			t.Logf("failed incident adopted by %s", got.Owner)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failed incident still names owner %q after r0 died (%v)", got.Owner, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitState polls receiver i until incident id reaches state.
func waitState(t *testing.T, f *system.Fleet, i int, id string, state api.State, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		inc, err := f.Receivers[i].Client.Incident(context.Background(), id)
		if err == nil && inc.State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("incident %s is %s (%v), want %s", id, inc.State, err, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
