package exporter

import (
	"context"
	"sync"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
)

func TestEventSourceCountsCachesAndDispatches(t *testing.T) {
	sink := &exportertest.RecordingSink{}
	cache := newStateCache(time.Minute)
	src := newEventSource("hv1", "tokyo", cache, sink, exportertest.DiscardLogger())
	src.handle(exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedDestroyed)))
	src.handle(exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventStarted, int32(libvirt.DomainEventStartedBooted)))
	src.handle(exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedPaused)))

	fired, resolved := sink.Snapshot()
	if len(fired) != 1 || fired[0] != "VCRDomainShutoff/web" || len(resolved) != 1 {
		t.Fatalf("fired %v resolved %v", fired, resolved)
	}
	if o, ok := cache.get(exportertest.WebUUID); !ok || o.state != 3 {
		t.Fatalf("cached state = %+v, want paused (3)", o)
	}
	col := newEventsCollector(src, newSupervisor(nil, exportertest.DiscardLogger()))
	reg := prometheus.NewRegistry()
	reg.MustRegister(&exportertest.CollectorAdapter{C: col, Timeout: time.Second})
	if v := exportertest.GatherValue(t, reg, "vcr_domain_lifecycle_events_total", "event", "stopped"); v != 1 {
		t.Errorf("stopped events = %v", v)
	}
	if v := exportertest.GatherValue(t, reg, "vcr_domain_failures_total", "alertname", failure.AlertShutoff); v != 1 {
		t.Errorf("failures = %v", v)
	}
	src.handle(exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventUndefined, 0))
	if _, ok := cache.get(exportertest.WebUUID); ok {
		t.Error("undefined domain still cached")
	}
}

// libvirtd goes away and comes back: the supervisor backs off, reconnects,
// resubscribes, and events flow again; a domain that died meanwhile is
// caught by reconciliation.
func TestSupervisorReconnectsAndReconciles(t *testing.T) {
	first := exportertest.NewFakeClient(exportertest.SampleRecords()...)
	second := exportertest.NewFakeClient(exportertest.SampleRecords()...)
	// While libvirtd was away, web (running) shut off.
	recs := exportertest.SampleRecords()
	recs[0].Params[0] = exportertest.TP("state.state", int32(5))
	second.SetRecords(recs...)

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
			return nil, exportertest.ErrFakeDial
		default:
			return second, nil
		}
	}
	sink := &exportertest.RecordingSink{}
	cache := newStateCache(time.Minute)
	src := newEventSource("hv1", "tokyo", cache, sink, exportertest.DiscardLogger())
	sup := newSupervisor(dial, exportertest.DiscardLogger())
	sup.onEvent = src.handle
	sup.onConnect = src.reconcile
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sup.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	<-sup.connected
	first.Events <- exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedPaused))
	first.Events <- exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventResumed, int32(libvirt.DomainEventResumedUnpaused))
	exportertest.WaitFor(t, func() bool { _, r := sink.Snapshot(); return len(r) == 1 })

	first.Disconnect() // libvirtd died
	exportertest.WaitFor(t, func() bool { return sup.connects.Load() == 2 })
	if sup.current() != Client(second) {
		t.Fatal("not using the new connection")
	}
	exportertest.WaitFor(t, func() bool { f, _ := sink.Snapshot(); return len(f) == 1 })
	if f, _ := sink.Snapshot(); f[0] != "VCRDomainShutoff/web" {
		t.Fatalf("reconcile fired %v", f)
	}
	// Events flow on the new subscription.
	second.Events <- exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventStarted, int32(libvirt.DomainEventStartedBooted))
	exportertest.WaitFor(t, func() bool { _, r := sink.Snapshot(); return len(r) == 2 })
	mu.Lock()
	if dials != 4 {
		t.Errorf("dials = %d, want 4 (ok, 2 failures, ok)", dials)
	}
	mu.Unlock()
	reg := prometheus.NewRegistry()
	reg.MustRegister(&exportertest.CollectorAdapter{C: newEventsCollector(src, sup), Timeout: time.Second})
	if v := exportertest.GatherValue(t, reg, "vcr_libvirt_connections_total", "host", "hv1"); v != 2 {
		t.Errorf("vcr_libvirt_connections_total = %v, want 2", v)
	}
	if v := exportertest.GatherValue(t, reg, "vcr_libvirt_events_subscribed", "host", "hv1"); v != 1 {
		t.Errorf("vcr_libvirt_events_subscribed = %v, want 1", v)
	}
}

// The first connection only records states: a domain already off at
// start-up may be off on purpose.
func TestReconcileFirstConnectionFiresNothing(t *testing.T) {
	sink := &exportertest.RecordingSink{}
	src := newEventSource("hv1", "", newStateCache(time.Minute), sink, exportertest.DiscardLogger())
	src.reconcile(context.Background(), exportertest.NewFakeClient(exportertest.SampleRecords()...)) // db is shut off
	if f, r := sink.Snapshot(); len(f)+len(r) != 0 {
		t.Fatalf("first reconcile dispatched fired=%v resolved=%v", f, r)
	}
	// A running domain that vanished entirely by the next connection stopped.
	src.reconcile(context.Background(), exportertest.NewFakeClient(exportertest.SampleRecords()[1:]...))
	if f, _ := sink.Snapshot(); len(f) != 1 || f[0] != "VCRDomainShutoff/web" {
		t.Fatalf("vanished domain: fired %v", f)
	}
}
