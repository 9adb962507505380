package exporter

import (
	"context"
	"log/slog"
	"sync"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/internal/virt"
)

// eventSource turns libvirt lifecycle events into counters, state-cache
// updates and fast-path decisions. It runs on the supervisor's goroutine,
// so everything it calls must return at once.
type eventSource struct {
	host, cloud string
	cache       *stateCache
	sink        failure.Sink // nil when the fast path is off
	logger      *slog.Logger
	now         func() time.Time

	mu       sync.Mutex
	counts   map[string]float64 // by event name
	failures map[string]float64 // by alert name
	// known is the last state seen per domain, to find the failures that
	// happened while libvirtd was unreachable.
	known map[string]domainObservation
}

func newEventSource(host, cloud string, cache *stateCache, sink failure.Sink, logger *slog.Logger) *eventSource {
	e := &eventSource{host: host, cloud: cloud, cache: cache, sink: sink, logger: logger, now: time.Now,
		counts: make(map[string]float64), failures: map[string]float64{failure.AlertShutoff: 0, failure.AlertCrashed: 0},
		known: make(map[string]domainObservation)}
	// Every event name starts at 0 so that rate() sees the first one.
	for ev := int32(0); ev <= int32(libvirt.DomainEventCrashed); ev++ {
		e.counts[virt.EventName(ev)] = 0
	}
	return e
}

func (e *eventSource) handle(msg libvirt.DomainEventLifecycleMsg) {
	now := e.now()
	uuid := virt.FormatUUID(msg.Dom.UUID)
	ev := failure.DomainEvent{Host: e.host, Cloud: e.cloud, Domain: msg.Dom.Name, UUID: uuid,
		Event: virt.EventName(msg.Event), Detail: virt.DetailName(msg.Event, msg.Detail), State: -1,
		Source: "libvirt", At: now}
	state, hasState := virt.StateAfterEvent(msg.Event, msg.Detail)
	if hasState {
		ev.State = state
	}
	verdict, alertname := failure.Classify(msg.Event, msg.Detail)
	e.logger.Info("lifecycle event", "domain", ev.Domain, "uuid", uuid, "event", ev.Event, "detail", ev.Detail, "fastpath", verdict.String())

	e.mu.Lock()
	e.counts[ev.Event]++
	if verdict == failure.Fire {
		e.failures[alertname]++
	}
	switch {
	case libvirt.DomainEventType(msg.Event) == libvirt.DomainEventUndefined:
		delete(e.known, uuid)
		e.cache.forget(uuid)
	case hasState:
		e.known[uuid] = domainObservation{name: ev.Domain, state: state, at: now}
		e.cache.set(uuid, ev.Domain, state, now)
	}
	e.mu.Unlock()
	failure.Dispatch(e.sink, ev, verdict, alertname)
}

// reconcile compares the states libvirt reports right after a reconnect
// with the last ones seen. A domain that was running and is now shut off
// or crashed failed while we could not hear about it: raise it now rather
// than wait for the rule path. The first connection only records states,
// since a domain already off at start-up may well be off on purpose.
func (e *eventSource) reconcile(ctx context.Context, c Client) {
	recs, err := virt.Call(ctx, func() ([]libvirt.DomainStatsRecord, error) {
		return c.ConnectGetAllDomainStats(nil, uint32(libvirt.DomainStatsState), statsFlags)
	})
	if err != nil {
		e.logger.Warn("reconcile domain states after connecting failed; relying on events and the rule path", "err", err)
		return
	}
	now := e.now()
	type change struct {
		ev        failure.DomainEvent
		verdict   failure.Verdict
		alertname string
	}
	var changes []change
	e.mu.Lock()
	first := len(e.known) == 0
	seen := make(map[string]bool, len(recs))
	for _, r := range recs {
		uuid := virt.FormatUUID(r.Dom.UUID)
		seen[uuid] = true
		state := int32(-1)
		for _, p := range r.Params {
			if p.Field == "state.state" {
				state = int32(num(p.Value))
				break
			}
		}
		if state < 0 {
			continue
		}
		old, had := e.known[uuid]
		e.known[uuid] = domainObservation{name: r.Dom.Name, state: state, at: now}
		if first || !had || old.state == state {
			continue
		}
		verdict, alertname := failure.ClassifyState(state)
		if verdict == failure.Ignore {
			continue
		}
		changes = append(changes, change{ev: failure.DomainEvent{Host: e.host, Cloud: e.cloud, Domain: r.Dom.Name, UUID: uuid,
			Event: "reconciled", Detail: virt.StateName(old.state) + "_to_" + virt.StateName(state), State: state,
			Source: "reconcile", At: now}, verdict: verdict, alertname: alertname})
		if verdict == failure.Fire {
			e.failures[alertname]++
		}
	}
	// A transient domain that was running and is gone entirely stopped too.
	for uuid, old := range e.known {
		if seen[uuid] {
			continue
		}
		delete(e.known, uuid)
		if old.state == virt.StateRunning || old.state == virt.StatePaused {
			changes = append(changes, change{ev: failure.DomainEvent{Host: e.host, Cloud: e.cloud, Domain: old.name, UUID: uuid,
				Event: "reconciled", Detail: "vanished", State: virt.StateShutoff, Source: "reconcile", At: now},
				verdict: failure.Fire, alertname: failure.AlertShutoff})
			e.failures[failure.AlertShutoff]++
		}
	}
	e.mu.Unlock()
	for _, ch := range changes {
		e.logger.Warn("domain changed state while libvirt was unreachable", "domain", ch.ev.Domain, "uuid", ch.ev.UUID,
			"change", ch.ev.Detail, "fastpath", ch.verdict.String())
		if ch.ev.State >= 0 {
			e.cache.set(ch.ev.UUID, ch.ev.Domain, ch.ev.State, now)
		}
		failure.Dispatch(e.sink, ch.ev, ch.verdict, ch.alertname)
	}
}
