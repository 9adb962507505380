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
		{libvirt.DomainEventCrashed, int32(libvirt.DomainEventCrashedCrashloaded), Fire, AlertCrashed},
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
		{libvirt.DomainEventUndefined, int32(libvirt.DomainEventUndefinedRemoved), Ignore, ""},
		{libvirt.DomainEventPmsuspended, int32(libvirt.DomainEventPmsuspendedMemory), Ignore, ""},
		{ev(99), 0, Ignore, ""},
		// Running again: resolve.
		{libvirt.DomainEventStarted, int32(libvirt.DomainEventStartedBooted), Resolve, ""},
		{libvirt.DomainEventStarted, int32(libvirt.DomainEventStartedRestored), Resolve, ""},
		{libvirt.DomainEventResumed, int32(libvirt.DomainEventResumedUnpaused), Resolve, ""},
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
		{3, Ignore, ""}, {4, Ignore, ""}, {7, Ignore, ""}, {0, Ignore, ""},
	} {
		v, a := ClassifyState(c.state)
		if v != c.verdict || a != c.alert {
			t.Errorf("ClassifyState(%d) = %v %q, want %v %q", c.state, v, a, c.verdict, c.alert)
		}
	}
}
