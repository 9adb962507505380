package exporter

import (
	"context"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/exporter/fastpath"
	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
	"github.com/vcrcovery/vcrcovery/exporter/lifecycle"
)

// A domain undefined after it failed is resolved, and then no longer
// pushed: without it, its alert was re-sent every resend interval forever,
// while its series (and the rule path's alert) were long gone.
func TestUndefinedFailedDomainStopsBeingPushed(t *testing.T) {
	fake := exportertest.NewFakeClient(exportertest.SampleRecords()...)
	am := exportertest.NewAMStub(t)
	const resend = 20 * time.Millisecond
	exp, err := New(Options{
		Dial: func(context.Context) (lifecycle.Client, error) { return fake, nil },
		Host: "hv1", Cloud: "tokyo", Logger: exportertest.DiscardLogger(),
		FastPath: &fastpath.Options{URLs: []string{am.Srv.URL}, ResendInterval: resend},
	})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, exp)
	<-exp.sup.Connected()
	fake.Events <- exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedDestroyed))
	am.Wait(t, 2) // the fire and a resend
	undefined := time.Now()
	fake.Events <- exportertest.Lifecycle("web", exportertest.WebUUID, libvirt.DomainEventUndefined, int32(libvirt.DomainEventUndefinedRemoved))
	exportertest.WaitFor(t, func() bool {
		reqs := am.All()
		last := reqs[len(reqs)-1][0]
		return last.EndsAt.Before(time.Now()) && !last.EndsAt.Before(undefined)
	})
	n := len(am.All())
	time.Sleep(10 * resend)
	if got := len(am.All()); got != n {
		t.Fatalf("%d more pushes after the domain was undefined and resolved", got-n)
	}
}
