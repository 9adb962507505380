// Package failure decides which domain lifecycle changes are failures (the
// event/detail table of the fast path) and carries each decision, as a
// DomainEvent, from where it was observed (libvirt events, libvirt-snmp
// traps, reconciliation) to a Sink (the fast path). Every part of the
// exporter that classifies or reacts to a failure imports this package, so
// the table exists once.
package failure

import (
	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/internal/virt"
)

// Alert names pushed by the fast path; the rule path uses the same names.
const (
	AlertShutoff = "VCRDomainShutoff"
	AlertCrashed = "VCRDomainCrashed"
)

// Verdict is what one lifecycle event means for the fast path.
type Verdict int

const (
	// Ignore: the event says nothing about failure or recovery.
	Ignore Verdict = iota
	// Fire: the domain failed; push the alert named by Classify.
	Fire
	// Resolve: the domain runs again; resolve its open fast-path alerts.
	Resolve
)

func (v Verdict) String() string {
	switch v {
	case Fire:
		return "fire"
	case Resolve:
		return "resolve"
	}
	return "ignore"
}

// failureKey is one (event, detail) pair; detail -1 matches every detail.
type failureKey struct{ event, detail int32 }

const anyDetail = -1

// failureTable decides which lifecycle events are failures. It follows the
// instance monitor of OpenStack Masakari (STOPPED/{SHUTDOWN,DESTROYED,FAILED},
// SUSPENDED/{IOERROR,WATCHDOG,API_ERROR}) and adds the crash events Masakari
// predates. Everything planned is left out on purpose: STOPPED/MIGRATED (the
// domain runs elsewhere), STOPPED/SAVED and STOPPED/FROM_SNAPSHOT (an
// operator's save or revert), plain SUSPENDED/PAUSED. SHUTDOWN/* is not a
// failure by itself: it is always followed by STOPPED/SHUTDOWN when the guest
// really goes away, and with on_poweroff=preserve it may not. Keep this table
// and exporter/README.md ("Fast path") in step.
var failureTable = map[failureKey]string{
	{int32(libvirt.DomainEventStopped), int32(libvirt.DomainEventStoppedShutdown)}:  AlertShutoff,
	{int32(libvirt.DomainEventStopped), int32(libvirt.DomainEventStoppedDestroyed)}: AlertShutoff,
	{int32(libvirt.DomainEventStopped), int32(libvirt.DomainEventStoppedCrashed)}:   AlertCrashed,
	{int32(libvirt.DomainEventStopped), int32(libvirt.DomainEventStoppedFailed)}:    AlertCrashed,
	{int32(libvirt.DomainEventCrashed), anyDetail}:                                  AlertCrashed,
	// A guest frozen by the hypervisor serves nothing: Masakari treats these
	// as failures too. Fencing destroys the domain before failover.
	{int32(libvirt.DomainEventSuspended), int32(libvirt.DomainEventSuspendedIoerror)}:        AlertCrashed,
	{int32(libvirt.DomainEventSuspended), int32(libvirt.DomainEventSuspendedWatchdog)}:       AlertCrashed,
	{int32(libvirt.DomainEventSuspended), int32(libvirt.DomainEventSuspendedAPIError)}:       AlertCrashed,
	{int32(libvirt.DomainEventSuspended), int32(libvirt.DomainEventSuspendedPostcopyFailed)}: AlertCrashed,
}

// Classify maps a libvirt lifecycle event to the fast path's verdict and,
// for Fire, the alert name. Any STARTED or RESUMED event resolves: the domain
// runs again, whether booted, restored or migrated back.
func Classify(event, detail int32) (Verdict, string) {
	if name, ok := failureTable[failureKey{event, detail}]; ok {
		return Fire, name
	}
	if name, ok := failureTable[failureKey{event, anyDetail}]; ok {
		return Fire, name
	}
	switch libvirt.DomainEventType(event) {
	case libvirt.DomainEventStarted, libvirt.DomainEventResumed:
		return Resolve, ""
	}
	return Ignore, ""
}

// ClassifyState is Classify for sources that report a state rather than an
// event (libvirt-snmp traps, reconciliation after a reconnect).
func ClassifyState(state int32) (Verdict, string) {
	switch state {
	case virt.StateShutoff:
		return Fire, AlertShutoff
	case virt.StateCrashed:
		return Fire, AlertCrashed
	case virt.StateRunning, virt.StateBlocked:
		return Resolve, ""
	}
	return Ignore, ""
}
