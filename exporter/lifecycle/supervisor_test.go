package lifecycle

import (
	"context"
	"sync"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
)

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
	cache := NewStateCache(time.Minute)
	src := NewTracker("hv1", "tokyo", cache, sink, exportertest.DiscardLogger())
	sup := NewSupervisor(dial, src, exportertest.DiscardLogger())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sup.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	<-sup.Connected()
	first.Events <- exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedPaused))
	first.Events <- exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventResumed, int32(libvirt.DomainEventResumedUnpaused))
	exportertest.WaitFor(t, func() bool { _, r := sink.Snapshot(); return len(r) == 1 })

	first.Disconnect() // libvirtd died
	exportertest.WaitFor(t, func() bool { return sup.Connects() == 2 })
	if sup.Current() != Client(second) {
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
	// What vcr_libvirt_connections_total and vcr_libvirt_events_subscribed
	// export.
	if v := sup.Connects(); v != 2 {
		t.Errorf("connections = %v, want 2", v)
	}
	if !sup.Subscribed() {
		t.Error("not subscribed after reconnecting")
	}
}

// The supervisor sweeps on its own while connected: a transient domain
// that failed and vanished is resolved after the retention, without any
// further event.
func TestSupervisorSweepsVanishedFailures(t *testing.T) {
	fake := exportertest.NewFakeClient(exportertest.SampleRecords()...)
	sink := &exportertest.RecordingSink{}
	src := NewTracker("hv1", "tokyo", NewStateCache(40*time.Millisecond), sink, exportertest.DiscardLogger())
	sup := NewSupervisor(func(context.Context) (Client, error) { return fake, nil }, src, exportertest.DiscardLogger())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sup.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	<-sup.Connected()
	fake.Events <- exportertest.Lifecycle("tmp", "99999999-0000-0000-0000-000000000001", libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedDestroyed))
	exportertest.WaitFor(t, func() bool { _, r := sink.Snapshot(); return len(r) == 1 && r[0] == "tmp" })
}
