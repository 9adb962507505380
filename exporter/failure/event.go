package failure

import "time"

// DomainEvent is one lifecycle change of one domain, from libvirt events,
// a libvirt-snmp trap or reconciliation after a reconnect.
type DomainEvent struct {
	Host, Cloud   string
	Domain, UUID  string
	Event, Detail string // lower-case names, e.g. "stopped", "destroyed"
	State         int32  // state the event left behind, -1 if unknown
	Source        string // "libvirt", "snmp" or "reconcile"
	At            time.Time
}

// Sink receives the fast path's decisions; *fastpath.Pusher implements it.
// Both methods must return at once: they run on the goroutine that reads
// libvirt events or SNMP traps.
type Sink interface {
	Fire(ev DomainEvent, alertname string)
	Resolve(ev DomainEvent)
}

// Dispatch hands a verdict to sink. A nil sink means the fast path is off.
func Dispatch(sink Sink, ev DomainEvent, verdict Verdict, alertname string) {
	if sink == nil {
		return
	}
	switch verdict {
	case Fire:
		sink.Fire(ev, alertname)
	case Resolve:
		sink.Resolve(ev)
	}
}
