package strategy

import (
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/lxd"
)

func TestProxyEndpoint(t *testing.T) {
	inst := func(listen string) *lxd.Instance {
		return &lxd.Instance{Name: "web", ExpandedDevices: map[string]map[string]string{
			"service": {"type": "proxy", "listen": listen, "connect": "tcp:127.0.0.1:8080"},
			"root":    {"type": "disk", "path": "/"},
		}}
	}
	cases := []struct {
		listen, fallback string
		addr             string
		port             int
		wantErr          string
	}{
		{listen: "tcp:127.0.0.2:8081", addr: "127.0.0.2", port: 8081},
		{listen: "tcp:[::1]:80", addr: "::1", port: 80},
		{listen: "tcp:0.0.0.0:8081", fallback: "127.0.0.3", addr: "127.0.0.3", port: 8081},
		{listen: "tcp:0.0.0.0:8081", wantErr: "not one address"},
		{listen: "tcp:127.0.0.2:8000-8010", wantErr: "no single port"},
		{listen: "udp:127.0.0.2:53", wantErr: "TCP endpoint"},
		{listen: "unix:/run/x.sock", wantErr: "TCP endpoint"},
	}
	for _, tc := range cases {
		ep, err := ProxyEndpoint(inst(tc.listen), "service", tc.fallback)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err = %v, want %q", tc.listen, err, tc.wantErr)
			}
			continue
		}
		if err != nil || ep.Address != tc.addr || ep.Port != tc.port {
			t.Errorf("%s: %+v, %v", tc.listen, ep, err)
		}
	}
	if _, err := ProxyEndpoint(inst("tcp:127.0.0.2:1"), "web", ""); err == nil {
		t.Error("missing device accepted")
	}
}

func TestRewriteListen(t *testing.T) {
	cases := []struct{ listen, addr, want, wantErr string }{
		{"tcp:127.0.0.9:8081", "127.0.0.2", "tcp:127.0.0.2:8081", ""},
		{"tcp:0.0.0.0:80", "127.0.0.3", "tcp:127.0.0.3:80", ""},
		{"udp:127.0.0.9:53", "::1", "udp:[::1]:53", ""},
		{"tcp:127.0.0.9:8081", "standby.example", "", "not an IP address"},
		{"unix:/run/s.sock", "127.0.0.2", "", "unix socket"},
		{"127.0.0.9:8081", "127.0.0.2", "", "unknown protocol"},
	}
	for _, tc := range cases {
		got, err := RewriteListen(tc.listen, tc.addr)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err = %v, want %q", tc.listen, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("RewriteListen(%s, %s) = %q, %v; want %q", tc.listen, tc.addr, got, err, tc.want)
		}
	}
}
