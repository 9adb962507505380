package collector

import (
	"context"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
	"github.com/vcrcovery/vcrcovery/exporter/lifecycle"
)

// The events collector exports what the tracker counted and the state of
// the supervisor's subscription, labelled with host and cloud.
func TestEventsCollector(t *testing.T) {
	fake := exportertest.NewFakeClient(exportertest.SampleRecords()...)
	tracker := lifecycle.NewTracker("hv1", "tokyo", lifecycle.NewStateCache(time.Minute), nil, exportertest.DiscardLogger())
	sup := lifecycle.NewSupervisor(func(context.Context) (lifecycle.Client, error) { return fake, nil }, tracker, exportertest.DiscardLogger())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sup.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	<-sup.Connected()
	fake.Events <- exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedDestroyed))
	exportertest.WaitFor(t, func() bool { events, _ := tracker.Counts(); return events["stopped"] == 1 })

	reg := prometheus.NewRegistry()
	reg.MustRegister(&exportertest.CollectorAdapter{C: newEventsCollector(tracker, sup, "hv1", "tokyo"), Timeout: time.Second})
	if v := exportertest.GatherValue(t, reg, "vcr_domain_lifecycle_events_total", "event", "stopped"); v != 1 {
		t.Errorf("stopped events = %v", v)
	}
	if v := exportertest.GatherValue(t, reg, "vcr_domain_failures_total", "alertname", failure.AlertShutoff); v != 1 {
		t.Errorf("failures = %v", v)
	}
	if v := exportertest.GatherValue(t, reg, "vcr_libvirt_connections_total", "host", "hv1"); v != 1 {
		t.Errorf("vcr_libvirt_connections_total = %v, want 1", v)
	}
	if v := exportertest.GatherValue(t, reg, "vcr_libvirt_events_subscribed", "cloud", "tokyo"); v != 1 {
		t.Errorf("vcr_libvirt_events_subscribed = %v, want 1", v)
	}
}
