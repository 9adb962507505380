package strategy

import (
	"net/netip"
	"testing"

	"github.com/vcrcovery/vcrcovery/lxd"
)

func TestPickAddress(t *testing.T) {
	pool := netip.MustParsePrefix("127.0.1.0/29") // .1 to .6 usable
	taken := map[netip.Addr]string{}
	got := map[netip.Addr]bool{}
	for i := range 6 {
		a, ok := pickAddress(pool, taken, "svc"+string(rune('a'+i)), "")
		if !ok || got[a] || !pool.Contains(a) || a == pool.Addr() || a.String() == "127.0.1.7" {
			t.Fatalf("pick %d: %s, %v (have %v)", i, a, ok, got)
		}
		got[a] = true
		taken[a] = "x"
	}
	if a, ok := pickAddress(pool, taken, "one-too-many", ""); ok {
		t.Fatalf("a full pool gave %s", a)
	}
	// The same name starts at the same place; a free preferred address wins.
	empty := map[netip.Addr]string{}
	a1, _ := pickAddress(pool, empty, "web", "")
	a2, _ := pickAddress(pool, empty, "web", "")
	if a1 != a2 {
		t.Errorf("not deterministic: %s then %s", a1, a2)
	}
	if a, _ := pickAddress(pool, empty, "web", "127.0.1.5"); a.String() != "127.0.1.5" {
		t.Errorf("preferred 127.0.1.5, got %s", a)
	}
	for _, prefer := range []string{"127.0.0.2", "127.0.1.0", "127.0.1.7", "0.0.0.0"} {
		if a, _ := pickAddress(pool, empty, "web", prefer); a.String() == prefer {
			t.Errorf("took %s: outside the pool or not usable", prefer)
		}
	}
	v6 := netip.MustParsePrefix("fd00::/64")
	if a, ok := pickAddress(v6, empty, "web", ""); !ok || !v6.Contains(a) {
		t.Errorf("IPv6 pool: %s, %v", a, ok)
	}
}

func TestAddrAdd(t *testing.T) {
	for _, tc := range []struct {
		a    string
		k    uint64
		want string
	}{
		{"127.0.1.0", 5, "127.0.1.5"},
		{"127.0.1.250", 10, "127.0.2.4"},
		{"fd00::ff", 1, "fd00::100"},
	} {
		if got := addrAdd(netip.MustParseAddr(tc.a), tc.k); got.String() != tc.want {
			t.Errorf("%s + %d = %s, want %s", tc.a, tc.k, got, tc.want)
		}
	}
}

func TestListenAddresses(t *testing.T) {
	inst := &lxd.Instance{Name: "web",
		Config: map[string]string{KeyAddress: "127.0.1.9"},
		ExpandedDevices: map[string]map[string]string{
			"web":  {"type": "proxy", "listen": "tcp:127.0.1.5:80", "connect": "tcp:127.0.0.1:80"},
			"any":  {"type": "proxy", "listen": "tcp:0.0.0.0:81", "connect": "tcp:127.0.0.1:81"},
			"root": {"type": "disk", "path": "/"},
		}}
	got := map[string]bool{}
	for _, a := range listenAddresses(inst) {
		got[a.String()] = true
	}
	if len(got) != 2 || !got["127.0.1.5"] || !got["127.0.1.9"] {
		t.Errorf("listenAddresses = %v", got)
	}
	if h := ListenHost(inst, "web"); h != "127.0.1.5" {
		t.Errorf("ListenHost = %q", h)
	}
	if h := ListenHost(inst, "nope"); h != "" {
		t.Errorf("ListenHost of a missing device = %q", h)
	}
}
