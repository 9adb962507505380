package snmptrap

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
)

const lvPrefix = ".1.3.6.1.4.1.36957"

// guestTrap builds a libvirtGuestNotif as libvirt-snmp sends it
// (libvirtNotifications.c), optionally with fields replaced or dropped.
func guestTrap(t *testing.T, community string, mutate func([]gosnmp.SnmpPDU) []gosnmp.SnmpPDU) []byte {
	t.Helper()
	uuid := exportertest.MustUUID(exportertest.WebUUID)
	vars := []gosnmp.SnmpPDU{
		{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(12345)},
		{Name: snmpTrapOID, Type: gosnmp.ObjectIdentifier, Value: lvPrefix + ".0.1"},
		{Name: lvPrefix + ".1.1.1.2.0", Type: gosnmp.OctetString, Value: []byte("web")},
		{Name: lvPrefix + ".1.1.1.1.0", Type: gosnmp.OctetString, Value: uuid[:]},
		{Name: lvPrefix + ".1.1.1.3.0", Type: gosnmp.Integer, Value: 5},
		{Name: lvPrefix + ".1.1.1.9.0", Type: gosnmp.Integer, Value: 2},
	}
	if mutate != nil {
		vars = mutate(vars)
	}
	pkt := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: community, PDUType: gosnmp.SNMPv2Trap,
		RequestID: 7, Variables: vars}
	b, err := pkt.MarshalMsg()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newReceiver(t *testing.T, opts Options, sink *exportertest.RecordingSink) *Receiver {
	t.Helper()
	var s failure.Sink
	if sink != nil {
		s = sink
	}
	r, err := New(opts, s, exportertest.DiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func decodeRaw(t *testing.T, b []byte) (GuestTrap, error) {
	t.Helper()
	pkt, err := (&gosnmp.GoSNMP{Version: gosnmp.Version2c}).UnmarshalTrap(b, false)
	if err != nil {
		t.Fatal(err)
	}
	return DecodeGuestTrap(pkt)
}

func TestDecodeGuestTrap(t *testing.T) {
	g, err := decodeRaw(t, guestTrap(t, "public", nil))
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "web" || g.UUID != exportertest.WebUUID || g.State != 5 || g.RowStatus != 2 {
		t.Fatalf("decoded %+v", g)
	}
	// The pre-2018 enterprise number, a text UUID (as snmptrap's "s" type
	// sends it) and no row status.
	g, err = decodeRaw(t, guestTrap(t, "public", func(v []gosnmp.SnmpPDU) []gosnmp.SnmpPDU {
		old := ".1.3.6.1.4.1.12345"
		v[1].Value = old + ".0.1"
		v[2].Name = old + ".1.1.1.2.0"
		v[3] = gosnmp.SnmpPDU{Name: old + ".1.1.1.1.0", Type: gosnmp.OctetString, Value: []byte(exportertest.WebUUID)}
		v[4].Name = old + ".1.1.1.3.0"
		return v[:5]
	}))
	if err != nil || g.UUID != exportertest.WebUUID || g.State != 5 {
		t.Fatalf("old enterprise: %+v %v", g, err)
	}
}

func TestDecodeGuestTrapMalformed(t *testing.T) {
	cases := map[string]func([]gosnmp.SnmpPDU) []gosnmp.SnmpPDU{
		"no name":  func(v []gosnmp.SnmpPDU) []gosnmp.SnmpPDU { return append(v[:2], v[3:]...) },
		"no uuid":  func(v []gosnmp.SnmpPDU) []gosnmp.SnmpPDU { return append(v[:3], v[4:]...) },
		"no state": func(v []gosnmp.SnmpPDU) []gosnmp.SnmpPDU { return append(v[:4], v[5:]...) },
		"state string": func(v []gosnmp.SnmpPDU) []gosnmp.SnmpPDU {
			v[4].Type, v[4].Value = gosnmp.OctetString, []byte("5")
			return v
		},
		"state 42":     func(v []gosnmp.SnmpPDU) []gosnmp.SnmpPDU { v[4].Value = 42; return v },
		"short uuid":   func(v []gosnmp.SnmpPDU) []gosnmp.SnmpPDU { v[3].Value = []byte{1, 2, 3}; return v },
		"uuid integer": func(v []gosnmp.SnmpPDU) []gosnmp.SnmpPDU { v[3].Type, v[3].Value = gosnmp.Integer, 1; return v },
		"rowstatus 9":  func(v []gosnmp.SnmpPDU) []gosnmp.SnmpPDU { v[5].Value = 9; return v },
		"no trap oid":  func(v []gosnmp.SnmpPDU) []gosnmp.SnmpPDU { return append(v[:1], v[2:]...) },
		"empty name":   func(v []gosnmp.SnmpPDU) []gosnmp.SnmpPDU { v[2].Value = []byte{}; return v },
		"trap oid not oid": func(v []gosnmp.SnmpPDU) []gosnmp.SnmpPDU {
			v[1].Type, v[1].Value = gosnmp.OctetString, []byte("x")
			return v
		},
	}
	for name, mutate := range cases {
		_, err := decodeRaw(t, guestTrap(t, "public", mutate))
		if err == nil || err == errNotGuestNotif {
			t.Errorf("%s: err = %v, want a malformed-trap error", name, err)
		}
	}
	_, err := decodeRaw(t, guestTrap(t, "public", func(v []gosnmp.SnmpPDU) []gosnmp.SnmpPDU {
		v[1].Value = ".1.3.6.1.6.3.1.1.5.1" // coldStart
		return v
	}))
	if err != errNotGuestNotif {
		t.Errorf("coldStart: err = %v, want errNotGuestNotif", err)
	}
}

func TestSNMPReceiverHandlePacket(t *testing.T) {
	sink := &exportertest.RecordingSink{}
	r := newReceiver(t, Options{Community: "public", Hosts: map[string]string{"10.0.0.7": "hv7"}, Cloud: "osaka"}, sink)
	r.now = func() time.Time { return time.Unix(1700000000, 0) }
	from := &net.UDPAddr{IP: net.ParseIP("10.0.0.7"), Port: 40000}
	other := &net.UDPAddr{IP: net.ParseIP("10.0.0.8"), Port: 40000}

	r.HandlePacket(guestTrap(t, "public", nil), from) // web shut off on hv7
	r.HandlePacket([]byte("\x30\x03garbage that is not BER"), from)
	r.HandlePacket(guestTrap(t, "public", func(v []gosnmp.SnmpPDU) []gosnmp.SnmpPDU { return v[:4] }), from)
	r.HandlePacket(guestTrap(t, "secret", nil), from)
	r.HandlePacket(guestTrap(t, "public", func(v []gosnmp.SnmpPDU) []gosnmp.SnmpPDU {
		v[1].Value = ".1.3.6.1.6.3.1.1.5.1"
		return v
	}), from)
	r.HandlePacket(guestTrap(t, "public", func(v []gosnmp.SnmpPDU) []gosnmp.SnmpPDU { v[4].Value = 1; return v }), other)

	fired, resolved := sink.Snapshot()
	if len(fired) != 1 || fired[0] != "VCRDomainShutoff/web" || len(resolved) != 1 {
		t.Fatalf("fired %v resolved %v", fired, resolved)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&exportertest.CollectorAdapter{C: r, Timeout: time.Second})
	for res, want := range map[string]float64{"ok": 2, "malformed": 2, "rejected": 1, "ignored": 1} {
		if v := exportertest.GatherValue(t, reg, "vcr_snmp_traps_total", "result", res); v != want {
			t.Errorf("traps{result=%s} = %v, want %v", res, v, want)
		}
	}
	want := `# HELP vcr_snmp_domain_state Last libvirt domain state a libvirt-snmp trap reported (same codes as vcr_domain_state); sender is the host that sent it.
# TYPE vcr_snmp_domain_state gauge
vcr_snmp_domain_state{cloud="osaka",domain="web",sender="10.0.0.8",uuid="11111111-2222-3333-4444-555555555555"} 1
vcr_snmp_domain_state{cloud="osaka",domain="web",sender="hv7",uuid="11111111-2222-3333-4444-555555555555"} 5
# HELP vcr_snmp_guest_events_total libvirt-snmp guest notifications, by sending host (sender) and the lifecycle event the reported state implies.
# TYPE vcr_snmp_guest_events_total counter
vcr_snmp_guest_events_total{cloud="osaka",event="started",sender="10.0.0.8"} 1
vcr_snmp_guest_events_total{cloud="osaka",event="stopped",sender="hv7"} 1
`
	if err := gatherCompare(reg, want, "vcr_snmp_domain_state", "vcr_snmp_guest_events_total"); err != nil {
		t.Fatal(err)
	}
}

func gatherCompare(reg *prometheus.Registry, want string, names ...string) error {
	return testutil.GatherAndCompare(reg, strings.NewReader(want), names...)
}

// An inform is processed like a trap and answered, so the sender stops
// retransmitting; a trap gets no answer.
func TestSNMPInformIsAnswered(t *testing.T) {
	r := newReceiver(t, Options{Community: "public"}, nil)
	from := &net.UDPAddr{IP: net.ParseIP("10.0.0.7"), Port: 40000}
	if reply := r.HandlePacket(guestTrap(t, "public", nil), from); reply != nil {
		t.Fatal("a trap was answered")
	}
	uuid := exportertest.MustUUID(exportertest.WebUUID)
	inform := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "public", PDUType: gosnmp.InformRequest, RequestID: 4242,
		Variables: []gosnmp.SnmpPDU{
			{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(1)},
			{Name: snmpTrapOID, Type: gosnmp.ObjectIdentifier, Value: lvPrefix + ".0.1"},
			{Name: lvPrefix + ".1.1.1.2.0", Type: gosnmp.OctetString, Value: []byte("web")},
			{Name: lvPrefix + ".1.1.1.1.0", Type: gosnmp.OctetString, Value: uuid[:]},
			{Name: lvPrefix + ".1.1.1.3.0", Type: gosnmp.Integer, Value: 6},
		}}
	b, err := inform.MarshalMsg()
	if err != nil {
		t.Fatal(err)
	}
	reply := r.HandlePacket(b, from)
	if reply == nil {
		t.Fatal("inform not answered")
	}
	resp, err := (&gosnmp.GoSNMP{Version: gosnmp.Version2c}).SnmpDecodePacket(reply)
	if err != nil {
		t.Fatal(err)
	}
	if resp.PDUType != gosnmp.GetResponse || resp.RequestID != 4242 || len(resp.Variables) != 5 {
		t.Fatalf("response %v id %d with %d varbinds", resp.PDUType, resp.RequestID, len(resp.Variables))
	}
	if r.results[trapOK] != 2 {
		t.Fatalf("ok = %v, want 2", r.results[trapOK])
	}
}
