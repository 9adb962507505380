// Package failure decides which domain states are failures (the one table
// the fast path and rules/vcr.rules.yml share) and carries each decision, as
// a DomainEvent, from where it was observed (libvirt events, libvirt-snmp
// traps, reconciliation) to a Sink (the fast path). Every part of the
// exporter that classifies or reacts to a failure imports this package, so
// the table exists once.
package failure

import (
	"slices"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/internal/virt"
)

// Alert names pushed by the fast path; the rule path uses the same names.
const (
	AlertShutoff = "VCRDomainShutoff"
	AlertCrashed = "VCRDomainCrashed"
)

// Verdict is what one lifecycle change means for the fast path.
type Verdict int

const (
	// Ignore: the change says nothing about failure or recovery.
	Ignore Verdict = iota
	// Fire: the domain failed; push the alert named with the verdict.
	Fire
	// Resolve: the domain runs again, or no longer exists; resolve its
	// open fast-path alerts.
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

// ReasonUnknown is the reason of a state reported without one (libvirt-snmp
// traps), and libvirt's own "unknown" reason of every state.
const ReasonUnknown = int32(0)

// The shut-off reasons (virDomainShutoffReason) and paused reasons
// (virDomainPausedReason) the table singles out. rules/vcr.rules.yml lists
// the same numbers in VCRDomainShutoff and VCRDomainCrashed.
var (
	// plannedShutoff: the domain runs elsewhere (a migration that left it
	// defined on its source), sleeps in a managed save, or was reverted to
	// a snapshot. An operator did it; nothing failed.
	plannedShutoff = []int32{int32(libvirt.DomainShutoffMigrated), int32(libvirt.DomainShutoffSaved), int32(libvirt.DomainShutoffFromSnapshot)}
	// crashedShutoff: shut off by a crash (on_crash=destroy) or a failed
	// start. The same failure as state crashed, so the same alert.
	crashedShutoff = []int32{int32(libvirt.DomainShutoffCrashed), int32(libvirt.DomainShutoffFailed)}
	// failedPause: frozen by the hypervisor, not by an operator. A frozen
	// guest serves nothing; OpenStack Masakari's instance monitor treats
	// I/O error, watchdog and API error pauses as failures too. Fencing
	// destroys the domain before failover.
	failedPause = []int32{int32(libvirt.DomainPausedIoerror), int32(libvirt.DomainPausedWatchdog), int32(libvirt.DomainPausedCrashed),
		int32(libvirt.DomainPausedPostcopyFailed), int32(libvirt.DomainPausedAPIError)}
)

// ClassifyStateReason is the failure table: what a domain in state
// (virDomainState) for reason (the state's virDomain<State>Reason) means.
//
//	shutoff    migrated, saved, from_snapshot     ignore (planned)
//	shutoff    crashed, failed                    VCRDomainCrashed
//	shutoff    any other (shutdown, destroyed,    VCRDomainShutoff
//	           daemon, unknown)
//	crashed    any                                VCRDomainCrashed
//	paused     ioerror, watchdog, crashed,        VCRDomainCrashed
//	           postcopy_failed, api_error
//	running,   any                                resolve
//	blocked
//	otherwise                                     ignore
//
// An unknown reason of a shut-off domain fires: libvirt forgets why an
// inactive domain stopped when it restarts, and a real failure must not be
// lost with it. rules/vcr.rules.yml encodes the same table; the alert
// identity test in rules/ holds the two together.
func ClassifyStateReason(state, reason int32) (Verdict, string) {
	switch state {
	case virt.StateShutoff:
		switch {
		case slices.Contains(plannedShutoff, reason):
			return Ignore, ""
		case slices.Contains(crashedShutoff, reason):
			return Fire, AlertCrashed
		}
		return Fire, AlertShutoff
	case virt.StateCrashed:
		return Fire, AlertCrashed
	case virt.StatePaused:
		if slices.Contains(failedPause, reason) {
			return Fire, AlertCrashed
		}
	case virt.StateRunning, virt.StateBlocked:
		return Resolve, ""
	}
	return Ignore, ""
}

// ClassifyState is ClassifyStateReason for sources that report a state
// without its reason (libvirt-snmp traps): a shut-off domain fires
// VCRDomainShutoff, a paused one nothing.
func ClassifyState(state int32) (Verdict, string) {
	return ClassifyStateReason(state, ReasonUnknown)
}

// Classify maps a libvirt lifecycle event to the fast path's verdict and,
// for Fire, the alert name: the verdict of the state and reason the event
// leaves behind (AfterEvent), so that an event and the state the rule path
// later scrapes always mean the same. An event that leaves no lasting state
// (shutdown in progress, a crash kernel loaded in a guest that keeps
// running, a definition) is ignored; UNDEFINED resolves, because a domain
// that no longer exists has no failure left to report (its series vanish,
// so the rule path resolves too).
func Classify(event, detail int32) (Verdict, string) {
	if libvirt.DomainEventType(event) == libvirt.DomainEventUndefined {
		return Resolve, ""
	}
	state, reason, ok := AfterEvent(event, detail)
	if !ok {
		return Ignore, ""
	}
	return ClassifyStateReason(state, reason)
}
