package snmptrap

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
)

// spoofed is the n-th forged source address, all over 10.0.0.0/8.
func spoofed(n int) net.Addr {
	return &net.UDPAddr{IP: net.IPv4(10, byte(n>>16), byte(n>>8), byte(n)), Port: 162}
}

// Without a community or an allowlist, anyone who reaches the port could
// fail services over: the receiver refuses to start unless told to.
func TestSNMPReceiverRequiresAuth(t *testing.T) {
	if _, err := New(Options{Address: ":0"}, nil, exportertest.DiscardLogger()); err == nil || !strings.Contains(err.Error(), "--snmp.allow-unauthenticated") {
		t.Fatalf("New without community or allowlist: %v", err)
	}
	for _, o := range []Options{{Community: "c"}, {Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, {AllowUnauthenticated: true}} {
		if _, err := New(o, nil, exportertest.DiscardLogger()); err != nil {
			t.Errorf("New(%+v): %v", o, err)
		}
	}
}

func TestParseAllow(t *testing.T) {
	got, err := ParseAllow([]string{"10.0.0.0/24", "192.0.2.7", "2001:db8::/32", "10.1.2.3/8"})
	if err != nil {
		t.Fatal(err)
	}
	want := "[10.0.0.0/24 192.0.2.7/32 2001:db8::/32 10.0.0.0/8]"
	if fmt.Sprint(got) != want {
		t.Fatalf("ParseAllow = %v, want %v", got, want)
	}
	if _, err := ParseAllow([]string{"10.0.0.0/33"}); err == nil {
		t.Error("bad prefix accepted")
	}
	if _, err := ParseAllow([]string{"hv1"}); err == nil {
		t.Error("host name accepted")
	}
}

// 20,000 forged traps, each claiming a guest shut off, from forged
// addresses: with a community they carry the wrong one, with an allowlist
// they come from outside it. None reaches the fast path, and the state the
// receiver keeps does not grow.
func TestSNMPSpoofedTrapsFireNothing(t *testing.T) {
	for name, opts := range map[string]Options{
		"community": {Community: "s3cret"},
		"allowlist": {Allow: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}},
		"both":      {Community: "s3cret", Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
	} {
		t.Run(name, func(t *testing.T) {
			sink := &exportertest.RecordingSink{}
			r := newReceiver(t, opts, sink)
			forged := guestTrap(t, "public", nil) // state 5: shut off
			for i := 0; i < 20000; i++ {
				r.HandlePacket(forged, spoofed(i))
			}
			if fired, resolved := sink.Snapshot(); len(fired)+len(resolved) != 0 {
				t.Fatalf("%d spoofed traps made %d fast-path fires", 20000, len(fired))
			}
			if r.results[trapRejected] != 20000 {
				t.Errorf("rejected = %v, want 20000", r.results[trapRejected])
			}
			if n := len(r.senders.byHost); n != 0 {
				t.Errorf("%d senders remembered from rejected traps", n)
			}
		})
	}
}

// Allowed senders with the right community are remembered, but never more
// than maxSenders of them: the least recently heard goes first, counted.
func TestSNMPSenderStateBounded(t *testing.T) {
	sink := &exportertest.RecordingSink{}
	r := newReceiver(t, Options{Community: "public", Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, sink)
	trap := guestTrap(t, "public", nil)
	const n = 3000
	for i := 0; i < n; i++ {
		r.HandlePacket(trap, spoofed(i))
	}
	if got := len(r.senders.byHost); got != maxSenders {
		t.Fatalf("%d senders remembered, want the bound %d", got, maxSenders)
	}
	if got := r.senders.evictions["sender"]; got != n-maxSenders {
		t.Errorf("sender evictions = %v, want %d", got, n-maxSenders)
	}
	if r.senders.guests != maxSenders {
		t.Errorf("%d guests remembered, want one per remembered sender", r.senders.guests)
	}
	// The most recent senders are the ones kept.
	if _, ok := r.senders.byHost[spoofed(n-1).(*net.UDPAddr).IP.String()]; !ok {
		t.Error("the last sender was evicted")
	}
	if _, ok := r.senders.byHost[spoofed(0).(*net.UDPAddr).IP.String()]; ok {
		t.Error("the first sender was kept")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&exportertest.CollectorAdapter{C: r, Timeout: time.Second})
	if v := exportertest.GatherValue(t, reg, "vcr_snmp_state_evictions_total", "kind", "sender"); v != n-maxSenders {
		t.Errorf("vcr_snmp_state_evictions_total{kind=sender} = %v", v)
	}
}

// One sender's guests never exceed maxGuests: beyond it new guests are not
// remembered (but still reach the fast path), and counted.
func TestSNMPGuestStateBounded(t *testing.T) {
	sink := &exportertest.RecordingSink{}
	r := newReceiver(t, Options{Community: "public"}, sink)
	from := spoofed(1)
	for i := 0; i < maxGuests+5; i++ {
		trap := guestTrap(t, "public", func(v []gosnmp.SnmpPDU) []gosnmp.SnmpPDU {
			u := exportertest.MustUUID(exportertest.WebUUID)
			u[0], u[1] = byte(i>>8), byte(i)
			v[3].Value = u[:]
			return v
		})
		r.HandlePacket(trap, from)
	}
	if r.senders.guests != maxGuests || r.senders.evictions["guest"] != 5 {
		t.Fatalf("guests %d, guest evictions %v; want %d and 5", r.senders.guests, r.senders.evictions["guest"], maxGuests)
	}
	if fired, _ := sink.Snapshot(); len(fired) != maxGuests+5 {
		t.Errorf("%d fires, want every trap's", len(fired))
	}
}

// libvirt-snmp says undefined with row status destroy(6): the guest is
// forgotten and its fast-path alert resolved, as for libvirt's UNDEFINED.
func TestSNMPUndefinedGuestResolves(t *testing.T) {
	sink := &exportertest.RecordingSink{}
	r := newReceiver(t, Options{Community: "public"}, sink)
	from := spoofed(7)
	r.HandlePacket(guestTrap(t, "public", nil), from)
	r.HandlePacket(guestTrap(t, "public", func(v []gosnmp.SnmpPDU) []gosnmp.SnmpPDU { v[5].Value = rowStatusDestroy; return v }), from)
	fired, resolved := sink.Snapshot()
	if len(fired) != 1 || len(resolved) != 1 {
		t.Fatalf("fired %v resolved %v, want one of each", fired, resolved)
	}
	if n := r.senders.guests; n != 0 {
		t.Errorf("%d guests still remembered", n)
	}
}
