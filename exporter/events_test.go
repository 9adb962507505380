package exporter

import (
	"context"
	"sync"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
)

// recordingSink remembers the fast path's decisions.
type recordingSink struct {
	mu       sync.Mutex
	fired    []string // alertname/domain
	resolved []string // domain
}

func (r *recordingSink) Fire(ev failure.DomainEvent, alertname string) {
	r.mu.Lock()
	r.fired = append(r.fired, alertname+"/"+ev.Domain)
	r.mu.Unlock()
}

func (r *recordingSink) Resolve(ev failure.DomainEvent) {
	r.mu.Lock()
	r.resolved = append(r.resolved, ev.Domain)
	r.mu.Unlock()
}

func (r *recordingSink) snapshot() ([]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.fired...), append([]string(nil), r.resolved...)
}

func lifecycle(name, uuid string, event libvirt.DomainEventType, detail int32) libvirt.DomainEventLifecycleMsg {
	return libvirt.DomainEventLifecycleMsg{Dom: libvirt.Domain{Name: name, UUID: mustUUID(uuid)}, Event: int32(event), Detail: detail}
}

const webUUID = "11111111-2222-3333-4444-555555555555"

func TestEventSourceCountsCachesAndDispatches(t *testing.T) {
	sink := &recordingSink{}
	cache := newStateCache(time.Minute)
	src := newEventSource("hv1", "tokyo", cache, sink, discardLogger())
	src.handle(lifecycle("web", webUUID, libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedDestroyed)))
	src.handle(lifecycle("web", webUUID, libvirt.DomainEventStarted, int32(libvirt.DomainEventStartedBooted)))
	src.handle(lifecycle("web", webUUID, libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedPaused)))

	fired, resolved := sink.snapshot()
	if len(fired) != 1 || fired[0] != "VCRDomainShutoff/web" || len(resolved) != 1 {
		t.Fatalf("fired %v resolved %v", fired, resolved)
	}
	if o, ok := cache.get(webUUID); !ok || o.state != 3 {
		t.Fatalf("cached state = %+v, want paused (3)", o)
	}
	col := newEventsCollector(src, newSupervisor(nil, discardLogger()))
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collectorAdapter{c: col, timeout: time.Second})
	if v := gatherValue(t, reg, "vcr_domain_lifecycle_events_total", "event", "stopped"); v != 1 {
		t.Errorf("stopped events = %v", v)
	}
	if v := gatherValue(t, reg, "vcr_domain_failures_total", "alertname", failure.AlertShutoff); v != 1 {
		t.Errorf("failures = %v", v)
	}
	src.handle(lifecycle("web", webUUID, libvirt.DomainEventUndefined, 0))
	if _, ok := cache.get(webUUID); ok {
		t.Error("undefined domain still cached")
	}
}

func gatherValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	v, ok := gatherSamples(t, reg).get(name, map[string]string{label: value})
	if !ok {
		t.Fatalf("no %s{%s=%q}", name, label, value)
	}
	return v
}

// libvirtd goes away and comes back: the supervisor backs off, reconnects,
// resubscribes, and events flow again; a domain that died meanwhile is
// caught by reconciliation.
func TestSupervisorReconnectsAndReconciles(t *testing.T) {
	first := newFakeClient(sampleRecords()...)
	second := newFakeClient(sampleRecords()...)
	// While libvirtd was away, web (running) shut off.
	recs := sampleRecords()
	recs[0].Params[0] = tp("state.state", int32(5))
	second.setRecords(recs...)

	var mu sync.Mutex
	dials := 0
	dial := func(ctx context.Context) (Client, error) {
		mu.Lock()
		defer mu.Unlock()
		dials++
		switch {
		case dials == 1:
			return first, nil
		case dials <= 3:
			return nil, errFakeDial
		default:
			return second, nil
		}
	}
	sink := &recordingSink{}
	cache := newStateCache(time.Minute)
	src := newEventSource("hv1", "tokyo", cache, sink, discardLogger())
	sup := newSupervisor(dial, discardLogger())
	sup.onEvent = src.handle
	sup.onConnect = src.reconcile
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sup.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	<-sup.connected
	first.events <- lifecycle("web", webUUID, libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedPaused))
	first.events <- lifecycle("web", webUUID, libvirt.DomainEventResumed, int32(libvirt.DomainEventResumedUnpaused))
	waitFor(t, func() bool { _, r := sink.snapshot(); return len(r) == 1 })

	first.Disconnect() // libvirtd died
	waitFor(t, func() bool { return sup.connects.Load() == 2 })
	if sup.current() != Client(second) {
		t.Fatal("not using the new connection")
	}
	waitFor(t, func() bool { f, _ := sink.snapshot(); return len(f) == 1 })
	if f, _ := sink.snapshot(); f[0] != "VCRDomainShutoff/web" {
		t.Fatalf("reconcile fired %v", f)
	}
	// Events flow on the new subscription.
	second.events <- lifecycle("web", webUUID, libvirt.DomainEventStarted, int32(libvirt.DomainEventStartedBooted))
	waitFor(t, func() bool { _, r := sink.snapshot(); return len(r) == 2 })
	mu.Lock()
	if dials != 4 {
		t.Errorf("dials = %d, want 4 (ok, 2 failures, ok)", dials)
	}
	mu.Unlock()
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collectorAdapter{c: newEventsCollector(src, sup), timeout: time.Second})
	if v := gatherValue(t, reg, "vcr_libvirt_connections_total", "host", "hv1"); v != 2 {
		t.Errorf("vcr_libvirt_connections_total = %v, want 2", v)
	}
	if v := gatherValue(t, reg, "vcr_libvirt_events_subscribed", "host", "hv1"); v != 1 {
		t.Errorf("vcr_libvirt_events_subscribed = %v, want 1", v)
	}
}

// The first connection only records states: a domain already off at
// start-up may be off on purpose.
func TestReconcileFirstConnectionFiresNothing(t *testing.T) {
	sink := &recordingSink{}
	src := newEventSource("hv1", "", newStateCache(time.Minute), sink, discardLogger())
	src.reconcile(context.Background(), newFakeClient(sampleRecords()...)) // db is shut off
	if f, r := sink.snapshot(); len(f)+len(r) != 0 {
		t.Fatalf("first reconcile dispatched fired=%v resolved=%v", f, r)
	}
	// A running domain that vanished entirely by the next connection stopped.
	src.reconcile(context.Background(), newFakeClient(sampleRecords()[1:]...))
	if f, _ := sink.snapshot(); len(f) != 1 || f[0] != "VCRDomainShutoff/web" {
		t.Fatalf("vanished domain: fired %v", f)
	}
}
