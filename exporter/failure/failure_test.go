package failure

import (
	"testing"

	libvirt "github.com/digitalocean/go-libvirt"
)

func TestClassify(t *testing.T) {
	type ev = libvirt.DomainEventType
	cases := []struct {
		event   libvirt.DomainEventType
		detail  int32
		verdict Verdict
		alert   string
	}{
		{libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedDestroyed), Fire, AlertShutoff},
		{libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedShutdown), Fire, AlertShutoff},
		{libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedCrashed), Fire, AlertCrashed},
		{libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedFailed), Fire, AlertCrashed},
		{libvirt.DomainEventCrashed, int32(libvirt.DomainEventCrashedPanicked), Fire, AlertCrashed},
		// The guest loaded its crash kernel and keeps running: libvirt
		// changes no state, nothing would ever resolve it.
		{libvirt.DomainEventCrashed, int32(libvirt.DomainEventCrashedCrashloaded), Ignore, ""},
		{libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedIoerror), Fire, AlertCrashed},
		{libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedWatchdog), Fire, AlertCrashed},
		{libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedAPIError), Fire, AlertCrashed},
		{libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedPostcopyFailed), Fire, AlertCrashed},
		// Planned or harmless: never a failover.
		{libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedMigrated), Ignore, ""},
		{libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedSaved), Ignore, ""},
		{libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedFromSnapshot), Ignore, ""},
		{libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedPaused), Ignore, ""},
		{libvirt.DomainEventSuspended, int32(libvirt.DomainEventSuspendedMigrated), Ignore, ""},
		{libvirt.DomainEventShutdown, int32(libvirt.DomainEventShutdownFinished), Ignore, ""},
		{libvirt.DomainEventDefined, int32(libvirt.DomainEventDefinedAdded), Ignore, ""},
		{libvirt.DomainEventStopped, int32(libvirt.DomainEventStoppedRecreated), Ignore, ""},
		{libvirt.DomainEventPmsuspended, int32(libvirt.DomainEventPmsuspendedMemory), Ignore, ""},
		{ev(99), 0, Ignore, ""},
		// Running again: resolve.
		{libvirt.DomainEventStarted, int32(libvirt.DomainEventStartedBooted), Resolve, ""},
		{libvirt.DomainEventStarted, int32(libvirt.DomainEventStartedRestored), Resolve, ""},
		{libvirt.DomainEventResumed, int32(libvirt.DomainEventResumedUnpaused), Resolve, ""},
		// Gone: nothing left to fail over, and its series vanish.
		{libvirt.DomainEventUndefined, int32(libvirt.DomainEventUndefinedRemoved), Resolve, ""},
	}
	for _, c := range cases {
		v, a := Classify(int32(c.event), c.detail)
		if v != c.verdict || a != c.alert {
			t.Errorf("Classify(%d,%d) = %v %q, want %v %q", c.event, c.detail, v, a, c.verdict, c.alert)
		}
	}
}

func TestClassifyState(t *testing.T) {
	for _, c := range []struct {
		state   int32
		verdict Verdict
		alert   string
	}{
		{5, Fire, AlertShutoff}, {6, Fire, AlertCrashed}, {1, Resolve, ""}, {2, Resolve, ""},
		// Without a reason a pause cannot be told from an operator's.
		{3, Ignore, ""}, {4, Ignore, ""}, {7, Ignore, ""}, {0, Ignore, ""},
	} {
		v, a := ClassifyState(c.state)
		if v != c.verdict || a != c.alert {
			t.Errorf("ClassifyState(%d) = %v %q, want %v %q", c.state, v, a, c.verdict, c.alert)
		}
	}
}

// Planned stops are no failures, crash-like stops and hypervisor pauses are
// crashes, whatever path reports them.
func TestClassifyStateReason(t *testing.T) {
	const (
		shutoff = int32(libvirt.DomainShutoff)
		paused  = int32(libvirt.DomainPaused)
	)
	for _, c := range []struct {
		state, reason int32
		verdict       Verdict
		alert         string
	}{
		{shutoff, int32(libvirt.DomainShutoffMigrated), Ignore, ""},
		{shutoff, int32(libvirt.DomainShutoffSaved), Ignore, ""},
		{shutoff, int32(libvirt.DomainShutoffFromSnapshot), Ignore, ""},
		{shutoff, int32(libvirt.DomainShutoffCrashed), Fire, AlertCrashed},
		{shutoff, int32(libvirt.DomainShutoffFailed), Fire, AlertCrashed},
		{shutoff, int32(libvirt.DomainShutoffDestroyed), Fire, AlertShutoff},
		{shutoff, int32(libvirt.DomainShutoffShutdown), Fire, AlertShutoff},
		{shutoff, int32(libvirt.DomainShutoffDaemon), Fire, AlertShutoff},
		{shutoff, ReasonUnknown, Fire, AlertShutoff},
		{paused, int32(libvirt.DomainPausedIoerror), Fire, AlertCrashed},
		{paused, int32(libvirt.DomainPausedWatchdog), Fire, AlertCrashed},
		{paused, int32(libvirt.DomainPausedAPIError), Fire, AlertCrashed},
		{paused, int32(libvirt.DomainPausedCrashed), Fire, AlertCrashed},
		{paused, int32(libvirt.DomainPausedPostcopyFailed), Fire, AlertCrashed},
		{paused, int32(libvirt.DomainPausedUser), Ignore, ""},
		{paused, int32(libvirt.DomainPausedMigration), Ignore, ""},
		{paused, int32(libvirt.DomainPausedSnapshot), Ignore, ""},
		{int32(libvirt.DomainCrashed), int32(libvirt.DomainCrashedPanicked), Fire, AlertCrashed},
		{int32(libvirt.DomainRunning), int32(libvirt.DomainRunningMigrated), Resolve, ""},
		{int32(libvirt.DomainShutdown), int32(libvirt.DomainShutdownUser), Ignore, ""},
	} {
		v, a := ClassifyStateReason(c.state, c.reason)
		if v != c.verdict || a != c.alert {
			t.Errorf("ClassifyStateReason(%d,%d) = %v %q, want %v %q", c.state, c.reason, v, a, c.verdict, c.alert)
		}
	}
}
