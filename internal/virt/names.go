package virt

import (
	"encoding/hex"
	"fmt"
	"strconv"

	libvirt "github.com/digitalocean/go-libvirt"
)

// Domain states (virDomainState), as exported in vcr_domain_state.
const (
	StateNoState     = int32(libvirt.DomainNostate)
	StateRunning     = int32(libvirt.DomainRunning)
	StateBlocked     = int32(libvirt.DomainBlocked)
	StatePaused      = int32(libvirt.DomainPaused)
	StateShutdown    = int32(libvirt.DomainShutdown)
	StateShutoff     = int32(libvirt.DomainShutoff)
	StateCrashed     = int32(libvirt.DomainCrashed)
	StatePMSuspended = int32(libvirt.DomainPmsuspended)
)

var stateNames = []string{"nostate", "running", "blocked", "paused", "shutdown", "shutoff", "crashed", "pmsuspended"}

// StateName returns the lower-case name of a virDomainState code, or
// "unknown_<n>" for codes this build does not know.
func StateName(code int32) string {
	if code >= 0 && int(code) < len(stateNames) {
		return stateNames[code]
	}
	return "unknown_" + strconv.Itoa(int(code))
}

var eventNames = []string{"defined", "undefined", "started", "suspended", "resumed", "stopped", "shutdown", "pmsuspended", "crashed"}

// EventName returns the lower-case name of a virDomainEventType code, the
// value of the event label in vcr_domain_lifecycle_events_total.
func EventName(event int32) string {
	if event >= 0 && int(event) < len(eventNames) {
		return eventNames[event]
	}
	return "unknown_" + strconv.Itoa(int(event))
}

// detailNames is indexed by event type, then by detail code, following
// libvirt-domain.h (virDomainEvent*DetailType).
var detailNames = [][]string{
	libvirt.DomainEventDefined:     {"added", "updated", "renamed", "from_snapshot"},
	libvirt.DomainEventUndefined:   {"removed", "renamed"},
	libvirt.DomainEventStarted:     {"booted", "migrated", "restored", "from_snapshot", "wakeup", "recreated"},
	libvirt.DomainEventSuspended:   {"paused", "migrated", "ioerror", "watchdog", "restored", "from_snapshot", "api_error", "postcopy", "postcopy_failed"},
	libvirt.DomainEventResumed:     {"unpaused", "migrated", "from_snapshot", "postcopy", "postcopy_failed"},
	libvirt.DomainEventStopped:     {"shutdown", "destroyed", "crashed", "migrated", "saved", "failed", "from_snapshot", "recreated"},
	libvirt.DomainEventShutdown:    {"finished", "guest", "host"},
	libvirt.DomainEventPmsuspended: {"memory", "disk"},
	libvirt.DomainEventCrashed:     {"panicked", "crashloaded"},
}

// DetailName returns the lower-case name of a lifecycle event's detail code.
func DetailName(event, detail int32) string {
	if event >= 0 && int(event) < len(detailNames) {
		d := detailNames[event]
		if detail >= 0 && int(detail) < len(d) {
			return d[detail]
		}
	}
	return "unknown_" + strconv.Itoa(int(detail))
}

// StateAfterEvent returns the domain state a lifecycle event leaves behind,
// and false when the event says nothing definite about it (defined,
// shutdown-in-progress).
func StateAfterEvent(event, detail int32) (int32, bool) {
	switch libvirt.DomainEventType(event) {
	case libvirt.DomainEventStarted, libvirt.DomainEventResumed:
		return StateRunning, true
	case libvirt.DomainEventSuspended:
		return StatePaused, true
	case libvirt.DomainEventStopped:
		return StateShutoff, true
	case libvirt.DomainEventPmsuspended:
		return StatePMSuspended, true
	case libvirt.DomainEventCrashed:
		return StateCrashed, true
	}
	return 0, false
}

// FormatUUID renders a libvirt UUID in its canonical 8-4-4-4-12 form.
func FormatUUID(u libvirt.UUID) string {
	return FormatUUIDBytes(u[:])
}

// FormatUUIDBytes renders 16 raw bytes as a canonical UUID string.
func FormatUUIDBytes(b []byte) string {
	if len(b) != 16 {
		return hex.EncodeToString(b)
	}
	var buf [36]byte
	hex.Encode(buf[0:8], b[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], b[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], b[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], b[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:36], b[10:16])
	return string(buf[:])
}

// ParseUUID accepts a UUID with or without dashes.
func ParseUUID(s string) (libvirt.UUID, error) {
	var u libvirt.UUID
	clean := make([]byte, 0, 32)
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			clean = append(clean, s[i])
		}
	}
	if len(clean) != 32 {
		return u, fmt.Errorf("uuid %q: want 32 hex digits", s)
	}
	if _, err := hex.Decode(u[:], clean); err != nil {
		return u, fmt.Errorf("uuid %q: %w", s, err)
	}
	return u, nil
}
