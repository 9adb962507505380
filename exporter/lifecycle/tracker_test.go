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

// A planned stop leaves its reason in the cache for the scrape, and fires
// nothing; a crash-like stop fires the same alert as state crashed.
func TestTrackerPlannedStopsAndReasons(t *testing.T) {
	sink := &exportertest.RecordingSink{}
	cache := NewStateCache(time.Minute)
	src := NewTracker("hv1", "tokyo", cache, sink, exportertest.DiscardLogger())
	for _, d := range []libvirt.DomainEventStoppedDetailType{libvirt.DomainEventStoppedMigrated, libvirt.DomainEventStoppedSaved, libvirt.DomainEventStoppedFromSnapshot} {
		src.handle(exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventStopped, int32(d)))
	}
	if f, _ := sink.Snapshot(); len(f) != 0 {
		t.Fatalf("planned stops fired %v", f)
	}
	if o, _ := cache.get(exportertest.WebUUID); o.State != 5 || o.Reason != int32(libvirt.DomainShutoffFromSnapshot) {
		t.Fatalf("cached %+v, want shutoff/from_snapshot (5/7)", o)
	}
	src.handle(exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedCrashed)))
	if f, _ := sink.Snapshot(); len(f) != 1 || f[0] != "VCRDomainCrashed/web" {
		t.Fatalf("stopped/crashed fired %v, want VCRDomainCrashed like state crashed", f)
	}
}

// A domain undefined after it failed resolves its fast-path alert: it
// would otherwise be re-pushed forever, while its series (and the rule
// path's alert) are gone.
func TestTrackerUndefinedAfterFailureResolves(t *testing.T) {
	sink := &exportertest.RecordingSink{}
	src := NewTracker("hv1", "tokyo", NewStateCache(time.Minute), sink, exportertest.DiscardLogger())
	src.handle(exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedDestroyed)))
	src.handle(exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventUndefined, int32(libvirt.DomainEventUndefinedRemoved)))
	if _, r := sink.Snapshot(); len(r) != 1 || r[0] != "web" {
		t.Fatalf("resolved %v after undefine, want web", r)
	}
	if len(src.failed) != 0 {
		t.Errorf("still tracked as failed: %v", src.failed)
	}
}

// A failed domain libvirt no longer lists (transient, or undefined while
// nobody listened) is resolved once the retention is over, when its cached
// series vanish; a failed domain that is still defined stays firing.
func TestTrackerSweepResolvesVanishedFailures(t *testing.T) {
	sink := &exportertest.RecordingSink{}
	now := time.Unix(1700000000, 0)
	src := NewTracker("hv1", "tokyo", NewStateCache(time.Minute), sink, exportertest.DiscardLogger())
	src.now = func() time.Time { return now }
	const transient = "99999999-0000-0000-0000-000000000001"
	src.handle(exportertest.Lifecycle("db", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedDestroyed)))
	src.handle(exportertest.Lifecycle("tmp", transient, libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedDestroyed)))
	fake := exportertest.NewFakeClient(exportertest.SampleRecords()...) // lists web and db, not tmp

	now = now.Add(30 * time.Second)
	src.sweep(context.Background(), fake)
	if _, r := sink.Snapshot(); len(r) != 0 {
		t.Fatalf("resolved %v before the retention was over", r)
	}
	now = now.Add(31 * time.Second)
	src.sweep(context.Background(), fake)
	if _, r := sink.Snapshot(); len(r) != 1 || r[0] != "tmp" {
		t.Fatalf("resolved %v, want the vanished tmp only", r)
	}
	src.sweep(context.Background(), fake)
	if _, r := sink.Snapshot(); len(r) != 1 {
		t.Fatalf("resolved %v: a sweep resolved twice", r)
	}
	if calls := fake.StatsCalls(); calls != 2 {
		t.Errorf("%d list calls, want 2 (none while nothing is due)", calls)
	}
}

// After a reconnect the reason decides too: a domain that was migrated
// away while libvirtd was unreachable fires nothing.
func TestReconcileIgnoresPlannedStops(t *testing.T) {
	sink := &exportertest.RecordingSink{}
	src := NewTracker("hv1", "", NewStateCache(time.Minute), sink, exportertest.DiscardLogger())
	src.reconcile(context.Background(), exportertest.NewFakeClient(exportertest.SampleRecords()...))
	recs := exportertest.SampleRecords()
	recs[0].Params[0] = exportertest.TP("state.state", int32(5))
	recs[0].Params[1] = exportertest.TP("state.reason", int32(libvirt.DomainShutoffMigrated))
	src.reconcile(context.Background(), exportertest.NewFakeClient(recs...))
	if f, r := sink.Snapshot(); len(f)+len(r) != 0 {
		t.Fatalf("migrated away while unreachable: fired %v resolved %v", f, r)
	}
	recs[0].Params[0] = exportertest.TP("state.state", int32(1))
	src.reconcile(context.Background(), exportertest.NewFakeClient(recs...))
	recs[0].Params[0] = exportertest.TP("state.state", int32(5))
	recs[0].Params[1] = exportertest.TP("state.reason", int32(libvirt.DomainShutoffFailed))
	src.reconcile(context.Background(), exportertest.NewFakeClient(recs...))
	if f, _ := sink.Snapshot(); len(f) != 1 || f[0] != "VCRDomainCrashed/web" {
		t.Fatalf("failed while unreachable: fired %v, want VCRDomainCrashed", f)
	}
}
