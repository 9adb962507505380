package snmptrap

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gosnmp/gosnmp"

	"github.com/vcrcovery/vcrcovery/internal/virt"
)

// LIBVIRT-MIB (libvirt-snmp, src/LIBVIRT-MIB.txt). The MIB moved from the
// placeholder enterprise 12345 to libvirt's registered 36957 in 2018; agents
// of both generations are in the field, so both are accepted.
var libvirtEnterprises = []string{".1.3.6.1.4.1.36957", ".1.3.6.1.4.1.12345"}

const (
	snmpTrapOID = ".1.3.6.1.6.3.1.1.4.1.0" // snmpTrapOID.0
	// Below an enterprise prefix:
	guestNotifSuffix  = ".0.1"    // libvirtNotifications.libvirtGuestNotif
	guestEntrySuffix  = ".1.1.1." // libvirtObjects.libvirtGuestTable.libvirtGuestEntry
	guestUUIDColumn   = "1"       // libvirtGuestUUID
	guestNameColumn   = "2"       // libvirtGuestName
	guestStateColumn  = "3"       // libvirtGuestState
	guestRowStatusCol = "9"       // libvirtGuestRowStatus
)

// GuestTrap is a decoded libvirtGuestNotif.
type GuestTrap struct {
	Name      string
	UUID      string
	State     int32
	RowStatus int // 0 when absent
}

var errNotGuestNotif = errors.New("not a libvirtGuestNotif")

// DecodeGuestTrap extracts the libvirtGuestNotif fields from an SNMP v2c
// trap or inform. It returns errNotGuestNotif for other notifications and a
// descriptive error for a guest notification it cannot trust.
func DecodeGuestTrap(p *gosnmp.SnmpPacket) (GuestTrap, error) {
	var g GuestTrap
	if p.PDUType != gosnmp.SNMPv2Trap && p.PDUType != gosnmp.InformRequest {
		return g, fmt.Errorf("PDU type %v: want an SNMPv2 trap or inform", p.PDUType)
	}
	prefix := ""
	for _, v := range p.Variables {
		if v.Name != snmpTrapOID {
			continue
		}
		oid, ok := v.Value.(string)
		if !ok {
			return g, fmt.Errorf("snmpTrapOID.0 has type %v, want an OID", v.Type)
		}
		oid = "." + strings.TrimPrefix(oid, ".")
		for _, e := range libvirtEnterprises {
			if oid == e+guestNotifSuffix {
				prefix = e + guestEntrySuffix
			}
		}
		if prefix == "" {
			return g, errNotGuestNotif
		}
	}
	if prefix == "" {
		return g, fmt.Errorf("no snmpTrapOID.0 varbind")
	}
	var haveName, haveUUID, haveState bool
	for _, v := range p.Variables {
		name := "." + strings.TrimPrefix(v.Name, ".")
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		// The column, followed by the row index (".0" from libvirt-snmp).
		col, _, _ := strings.Cut(name[len(prefix):], ".")
		switch col {
		case guestNameColumn:
			b, ok := v.Value.([]byte)
			if !ok || len(b) == 0 {
				return g, fmt.Errorf("libvirtGuestName: want a non-empty OCTET STRING, got %v", v.Type)
			}
			g.Name, haveName = string(b), true
		case guestUUIDColumn:
			b, ok := v.Value.([]byte)
			if !ok {
				return g, fmt.Errorf("libvirtGuestUUID: want an OCTET STRING, got %v", v.Type)
			}
			u, err := trapUUID(b)
			if err != nil {
				return g, err
			}
			g.UUID, haveUUID = u, true
		case guestStateColumn:
			n, ok := v.Value.(int)
			if !ok || v.Type != gosnmp.Integer {
				return g, fmt.Errorf("libvirtGuestState: want an INTEGER, got %v", v.Type)
			}
			if n < 0 || n > int(virt.StatePMSuspended) {
				return g, fmt.Errorf("libvirtGuestState %d: out of range 0..7", n)
			}
			g.State, haveState = int32(n), true
		case guestRowStatusCol:
			n, ok := v.Value.(int)
			if !ok || n < 1 || n > 6 {
				return g, fmt.Errorf("libvirtGuestRowStatus: want RowStatus 1..6, got %v %v", v.Type, v.Value)
			}
			g.RowStatus = n
		}
	}
	switch {
	case !haveName:
		return g, fmt.Errorf("libvirtGuestNotif without libvirtGuestName")
	case !haveUUID:
		return g, fmt.Errorf("libvirtGuestNotif without libvirtGuestUUID")
	case !haveState:
		return g, fmt.Errorf("libvirtGuestNotif without libvirtGuestState")
	}
	return g, nil
}

// trapUUID accepts the MIB's 16 raw octets, and the 36- or 32-character
// text form that hand-made traps (snmptrap ... s <uuid>) carry.
func trapUUID(b []byte) (string, error) {
	if len(b) == 16 {
		return virt.FormatUUIDBytes(b), nil
	}
	u, err := virt.ParseUUID(string(b))
	if err != nil {
		return "", fmt.Errorf("libvirtGuestUUID: want 16 octets or a UUID string: %w", err)
	}
	return virt.FormatUUID(u), nil
}

// trapEvent names the lifecycle event a reported state implies: the trap
// carries the state after the change, not libvirt's event.
func trapEvent(state int32) string {
	switch state {
	case virt.StateRunning, virt.StateBlocked:
		return "started"
	case virt.StatePaused:
		return "suspended"
	case virt.StateShutdown:
		return "shutdown"
	case virt.StateShutoff:
		return "stopped"
	case virt.StateCrashed:
		return "crashed"
	case virt.StatePMSuspended:
		return "pmsuspended"
	}
	return "unknown"
}
