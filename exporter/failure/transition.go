package failure

import (
	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/internal/virt"
)

// stateReason is the state and reason a lifecycle event leaves a domain in.
type stateReason struct{ state, reason int32 }

// afterEvent lists, per event type and detail, the state and reason
// libvirt sets when it emits the event (the QEMU driver's pairs; see
// virDomainEvent*DetailType and virDomain*Reason in libvirt-domain.h). A
// detail missing from its event's list leaves no lasting state.
var afterEvent = map[libvirt.DomainEventType]map[int32]stateReason{
	libvirt.DomainEventStarted: {
		int32(libvirt.DomainEventStartedBooted):       {virt.StateRunning, int32(libvirt.DomainRunningBooted)},
		int32(libvirt.DomainEventStartedMigrated):     {virt.StateRunning, int32(libvirt.DomainRunningMigrated)},
		int32(libvirt.DomainEventStartedRestored):     {virt.StateRunning, int32(libvirt.DomainRunningRestored)},
		int32(libvirt.DomainEventStartedFromSnapshot): {virt.StateRunning, int32(libvirt.DomainRunningFromSnapshot)},
		int32(libvirt.DomainEventStartedWakeup):       {virt.StateRunning, int32(libvirt.DomainRunningWakeup)},
		int32(libvirt.DomainEventStartedRecreated):    {virt.StateRunning, int32(libvirt.DomainRunningBooted)},
	},
	libvirt.DomainEventSuspended: {
		int32(libvirt.DomainEventSuspendedPaused):         {virt.StatePaused, int32(libvirt.DomainPausedUser)},
		int32(libvirt.DomainEventSuspendedMigrated):       {virt.StatePaused, int32(libvirt.DomainPausedMigration)},
		int32(libvirt.DomainEventSuspendedIoerror):        {virt.StatePaused, int32(libvirt.DomainPausedIoerror)},
		int32(libvirt.DomainEventSuspendedWatchdog):       {virt.StatePaused, int32(libvirt.DomainPausedWatchdog)},
		int32(libvirt.DomainEventSuspendedRestored):       {virt.StatePaused, int32(libvirt.DomainPausedUser)},
		int32(libvirt.DomainEventSuspendedFromSnapshot):   {virt.StatePaused, int32(libvirt.DomainPausedFromSnapshot)},
		int32(libvirt.DomainEventSuspendedAPIError):       {virt.StatePaused, int32(libvirt.DomainPausedAPIError)},
		int32(libvirt.DomainEventSuspendedPostcopy):       {virt.StatePaused, int32(libvirt.DomainPausedPostcopy)},
		int32(libvirt.DomainEventSuspendedPostcopyFailed): {virt.StatePaused, int32(libvirt.DomainPausedPostcopyFailed)},
	},
	libvirt.DomainEventResumed: {
		int32(libvirt.DomainEventResumedUnpaused):       {virt.StateRunning, int32(libvirt.DomainRunningUnpaused)},
		int32(libvirt.DomainEventResumedMigrated):       {virt.StateRunning, int32(libvirt.DomainRunningMigrated)},
		int32(libvirt.DomainEventResumedFromSnapshot):   {virt.StateRunning, int32(libvirt.DomainRunningFromSnapshot)},
		int32(libvirt.DomainEventResumedPostcopy):       {virt.StateRunning, int32(libvirt.DomainRunningPostcopy)},
		int32(libvirt.DomainEventResumedPostcopyFailed): {virt.StateRunning, int32(libvirt.DomainRunningPostcopyFailed)},
	},
	// STOPPED/RECREATED is left out: STARTED/RECREATED follows at once.
	libvirt.DomainEventStopped: {
		int32(libvirt.DomainEventStoppedShutdown):     {virt.StateShutoff, int32(libvirt.DomainShutoffShutdown)},
		int32(libvirt.DomainEventStoppedDestroyed):    {virt.StateShutoff, int32(libvirt.DomainShutoffDestroyed)},
		int32(libvirt.DomainEventStoppedCrashed):      {virt.StateShutoff, int32(libvirt.DomainShutoffCrashed)},
		int32(libvirt.DomainEventStoppedMigrated):     {virt.StateShutoff, int32(libvirt.DomainShutoffMigrated)},
		int32(libvirt.DomainEventStoppedSaved):        {virt.StateShutoff, int32(libvirt.DomainShutoffSaved)},
		int32(libvirt.DomainEventStoppedFailed):       {virt.StateShutoff, int32(libvirt.DomainShutoffFailed)},
		int32(libvirt.DomainEventStoppedFromSnapshot): {virt.StateShutoff, int32(libvirt.DomainShutoffFromSnapshot)},
	},
	libvirt.DomainEventPmsuspended: {
		int32(libvirt.DomainEventPmsuspendedMemory): {virt.StatePMSuspended, int32(libvirt.DomainPmsuspendedUnknown)},
		int32(libvirt.DomainEventPmsuspendedDisk):   {virt.StatePMSuspended, int32(libvirt.DomainPmsuspendedUnknown)},
	},
	// CRASHED/CRASHLOADED is left out: the guest loaded its crash kernel
	// and keeps running (then reboots itself); libvirt changes no state,
	// so the rule path never sees it, and nothing would resolve it.
	libvirt.DomainEventCrashed: {
		int32(libvirt.DomainEventCrashedPanicked): {virt.StateCrashed, int32(libvirt.DomainCrashedPanicked)},
	},
	// DEFINED, UNDEFINED and SHUTDOWN (a guest shutting down, followed by
	// STOPPED/SHUTDOWN when it is really gone) leave no lasting state.
}

// AfterEvent returns the state and reason a lifecycle event leaves behind,
// the values vcr_domain_state and vcr_domain_state_reason then show, and
// false when the event leaves no lasting state.
func AfterEvent(event, detail int32) (state, reason int32, ok bool) {
	sr, ok := afterEvent[libvirt.DomainEventType(event)][detail]
	return sr.state, sr.reason, ok
}
