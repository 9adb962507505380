package lifecycle

import (
	"context"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
)

func TestTrackerCountsCachesAndDispatches(t *testing.T) {
	sink := &exportertest.RecordingSink{}
	cache := NewStateCache(time.Minute)
	src := NewTracker("hv1", "tokyo", cache, sink, exportertest.DiscardLogger())
	src.handle(exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedDestroyed)))
	src.handle(exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventStarted, int32(libvirt.DomainEventStartedBooted)))
	src.handle(exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedPaused)))

	fired, resolved := sink.Snapshot()
	if len(fired) != 1 || fired[0] != "VCRDomainShutoff/web" || len(resolved) != 1 {
		t.Fatalf("fired %v resolved %v", fired, resolved)
	}
	if o, ok := cache.get(exportertest.WebUUID); !ok || o.State != 3 {
		t.Fatalf("cached state = %+v, want paused (3)", o)
	}
	// vcr_domain_lifecycle_events_total and vcr_domain_failures_total; the
	// events collector's test checks they are exported as they are counted.
	events, failures := src.Counts()
	if v := events["stopped"]; v != 1 {
		t.Errorf("stopped events = %v", v)
	}
	if v := failures[failure.AlertShutoff]; v != 1 {
		t.Errorf("failures = %v", v)
	}
	src.handle(exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventUndefined, 0))
	if _, ok := cache.get(exportertest.WebUUID); ok {
		t.Error("undefined domain still cached")
	}
}

// The first connection only records states: a domain already off at
// start-up may be off on purpose.
func TestReconcileFirstConnectionFiresNothing(t *testing.T) {
	sink := &exportertest.RecordingSink{}
	src := NewTracker("hv1", "", NewStateCache(time.Minute), sink, exportertest.DiscardLogger())
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
