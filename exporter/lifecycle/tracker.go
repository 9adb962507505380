package lifecycle

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/internal/virt"
)

// Tracker turns libvirt lifecycle events into counters, state-cache
// updates and fast-path decisions. It runs on the supervisor's goroutine,
// so everything it calls must return at once.
type Tracker struct {
	host, cloud string
	cache       *StateCache
	sink        failure.Sink // nil when the fast path is off
	logger      *slog.Logger
	now         func() time.Time

	mu       sync.Mutex
	counts   map[string]float64 // by event name
	failures map[string]float64 // by alert name
	// known is the last state seen per domain, to find the failures that
	// happened while libvirtd was unreachable.
	known map[string]Observation
	// changed hears about events that change a domain's XML.
	changed func(uuid string)
	// failed holds the domains the fast path has firing, from when, so that
	// one that vanished (undefined while nobody listened, or transient) is
	// resolved once the rule path stops seeing it too (sweep).
	failed map[string]Observation
}

// OnChange makes the tracker call fn with the UUID of every domain an event
// defined, undefined, started or stopped: the events after which its XML
// differs. Call it before the supervisor runs; fn must return at once.
func (t *Tracker) OnChange(fn func(uuid string)) { t.changed = fn }

// NewTracker labels events with host and cloud, records states in cache and
// hands verdicts to sink (nil when the fast path is off).
func NewTracker(host, cloud string, cache *StateCache, sink failure.Sink, logger *slog.Logger) *Tracker {
	t := &Tracker{host: host, cloud: cloud, cache: cache, sink: sink, logger: logger, now: time.Now,
		counts: make(map[string]float64), failures: map[string]float64{failure.AlertShutoff: 0, failure.AlertCrashed: 0},
		known: make(map[string]Observation), failed: make(map[string]Observation)}
	// Every event name starts at 0 so that rate() sees the first one.
	for ev := int32(0); ev <= int32(libvirt.DomainEventCrashed); ev++ {
		t.counts[virt.EventName(ev)] = 0
	}
	return t
}

func (t *Tracker) handle(msg libvirt.DomainEventLifecycleMsg) {
	now := t.now()
	uuid := virt.FormatUUID(msg.Dom.UUID)
	ev := failure.DomainEvent{Host: t.host, Cloud: t.cloud, Domain: msg.Dom.Name, UUID: uuid,
		Event: virt.EventName(msg.Event), Detail: virt.DetailName(msg.Event, msg.Detail), State: -1,
		Source: "libvirt", At: now}
	state, reason, hasState := failure.AfterEvent(msg.Event, msg.Detail)
	if hasState {
		ev.State = state
	}
	verdict, alertname := failure.Classify(msg.Event, msg.Detail)
	t.logger.Info("lifecycle event", "domain", ev.Domain, "uuid", uuid, "event", ev.Event, "detail", ev.Detail, "fastpath", verdict.String())

	t.mu.Lock()
	t.counts[ev.Event]++
	t.noteVerdict(uuid, ev.Domain, verdict, alertname, now)
	switch {
	case libvirt.DomainEventType(msg.Event) == libvirt.DomainEventUndefined:
		delete(t.known, uuid)
		t.cache.forget(uuid)
	case hasState:
		t.known[uuid] = Observation{Name: ev.Domain, State: state, Reason: reason, At: now}
		t.cache.Set(uuid, ev.Domain, state, reason, now)
	}
	t.mu.Unlock()
	if t.changed != nil {
		switch libvirt.DomainEventType(msg.Event) {
		case libvirt.DomainEventDefined, libvirt.DomainEventUndefined, libvirt.DomainEventStarted, libvirt.DomainEventStopped:
			t.changed(uuid)
		}
	}
	failure.Dispatch(t.sink, ev, verdict, alertname)
}

// noteVerdict counts a failure and keeps t.failed in step with what the
// fast path has firing (t.mu held).
func (t *Tracker) noteVerdict(uuid, name string, verdict failure.Verdict, alertname string, now time.Time) {
	switch verdict {
	case failure.Fire:
		t.failures[alertname]++
		t.failed[uuid] = Observation{Name: name, At: now}
	case failure.Resolve:
		delete(t.failed, uuid)
	}
}

// reconcile compares the states libvirt reports right after a reconnect
// with the last ones seen. A domain that was running and is now shut off
// or crashed failed while we could not hear about it: raise it now rather
// than wait for the rule path. The first connection only records states,
// since a domain already off at start-up may well be off on purpose.
func (t *Tracker) reconcile(ctx context.Context, c Client) {
	recs, err := listStates(ctx, c)
	if err != nil {
		t.logger.Warn("reconcile domain states after connecting failed; relying on events and the rule path", "err", err)
		return
	}
	now := t.now()
	type change struct {
		ev        failure.DomainEvent
		verdict   failure.Verdict
		alertname string
		reason    int32
	}
	var changes []change
	t.mu.Lock()
	first := len(t.known) == 0
	seen := make(map[string]bool, len(recs))
	for _, r := range recs {
		uuid := virt.FormatUUID(r.Dom.UUID)
		seen[uuid] = true
		state, reason := int32(-1), failure.ReasonUnknown
		for _, p := range r.Params {
			switch p.Field {
			case "state.state":
				state = int32(ParamFloat(p.Value))
			case "state.reason":
				reason = int32(ParamFloat(p.Value))
			}
		}
		if state < 0 {
			continue
		}
		old, had := t.known[uuid]
		t.known[uuid] = Observation{Name: r.Dom.Name, State: state, Reason: reason, At: now}
		if first || !had || old.State == state {
			continue
		}
		verdict, alertname := failure.ClassifyStateReason(state, reason)
		if verdict == failure.Ignore {
			continue
		}
		changes = append(changes, change{ev: failure.DomainEvent{Host: t.host, Cloud: t.cloud, Domain: r.Dom.Name, UUID: uuid,
			Event: "reconciled", Detail: virt.StateName(old.State) + "_to_" + virt.StateName(state), State: state,
			Source: "reconcile", At: now}, verdict: verdict, alertname: alertname, reason: reason})
		t.noteVerdict(uuid, r.Dom.Name, verdict, alertname, now)
	}
	// A transient domain that was running and is gone entirely stopped too.
	for uuid, old := range t.known {
		if seen[uuid] {
			continue
		}
		delete(t.known, uuid)
		if old.State == virt.StateRunning || old.State == virt.StatePaused {
			changes = append(changes, change{ev: failure.DomainEvent{Host: t.host, Cloud: t.cloud, Domain: old.Name, UUID: uuid,
				Event: "reconciled", Detail: "vanished", State: virt.StateShutoff, Source: "reconcile", At: now},
				verdict: failure.Fire, alertname: failure.AlertShutoff})
			t.noteVerdict(uuid, old.Name, failure.Fire, failure.AlertShutoff, now)
		}
	}
	t.mu.Unlock()
	for _, ch := range changes {
		t.logger.Warn("domain changed state while libvirt was unreachable", "domain", ch.ev.Domain, "uuid", ch.ev.UUID,
			"change", ch.ev.Detail, "fastpath", ch.verdict.String())
		if ch.ev.State >= 0 {
			t.cache.Set(ch.ev.UUID, ch.ev.Domain, ch.ev.State, ch.reason, now)
		}
		failure.Dispatch(t.sink, ch.ev, ch.verdict, ch.alertname)
	}
}

// sweep resolves the fast-path alerts of failed domains libvirt no longer
// lists, once --events.retention has passed since they failed: a domain
// undefined while the exporter was not listening, or a transient domain,
// which vanishes when it stops. Until then the scrape still exports its
// state from the cache and the rule path fires; after it, its series vanish
// and the rule path resolves, so the fast path does too instead of
// re-pushing the alert forever. A domain still listed stays failed.
func (t *Tracker) sweep(ctx context.Context, c Client) {
	now := t.now()
	due := map[string]Observation{}
	t.mu.Lock()
	for uuid, f := range t.failed {
		if now.Sub(f.At) >= t.cache.retention {
			due[uuid] = f
		}
	}
	t.mu.Unlock()
	if len(due) == 0 {
		return
	}
	recs, err := listStates(ctx, c)
	if err != nil {
		t.logger.Debug("list domains to sweep vanished failures; trying again later", "err", err)
		return
	}
	for _, r := range recs {
		delete(due, virt.FormatUUID(r.Dom.UUID))
	}
	var gone []failure.DomainEvent
	t.mu.Lock()
	for uuid, f := range due {
		// A failure that happened again since the list was taken is new.
		if cur, ok := t.failed[uuid]; !ok || !cur.At.Equal(f.At) {
			continue
		}
		delete(t.failed, uuid)
		delete(t.known, uuid)
		gone = append(gone, failure.DomainEvent{Host: t.host, Cloud: t.cloud, Domain: f.Name, UUID: uuid,
			Event: "vanished", Detail: "retention_over", State: -1, Source: "reconcile", At: now})
	}
	t.mu.Unlock()
	for _, ev := range gone {
		t.logger.Info("failed domain no longer exists; resolving its fast-path alerts", "domain", ev.Domain, "uuid", ev.UUID)
		failure.Dispatch(t.sink, ev, failure.Resolve, "")
	}
}

// callTimeout bounds the list calls of reconciliation and of a sweep: a hung
// libvirtd costs one of them, never the event loop (which waits for
// reconciliation).
const callTimeout = 10 * time.Second

// listStates asks libvirt for the state and reason of every domain, within
// callTimeout.
func listStates(ctx context.Context, c Client) ([]libvirt.DomainStatsRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return virt.Call(ctx, func() ([]libvirt.DomainStatsRecord, error) {
		return c.ConnectGetAllDomainStats(nil, uint32(libvirt.DomainStatsState), StatsFlags)
	})
}

// sweepEvery is how often sweep runs: a quarter of the retention, so a
// vanished failure resolves at most that late, within [10ms, 1m].
func (t *Tracker) sweepEvery() time.Duration {
	return min(max(t.cache.retention/4, 10*time.Millisecond), time.Minute)
}

// Counts returns copies of the event counters: by event name (every name
// from 0) and by the alert a failure raises.
func (t *Tracker) Counts() (events, failures map[string]float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.counts), maps.Clone(t.failures)
}
