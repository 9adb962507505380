package cold

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
)

func TestParseSettings(t *testing.T) {
	cases := []struct {
		raw     string
		check   func(Settings) bool
		wantErr string
	}{
		{raw: `{"remote":"standby"}`, check: func(s Settings) bool {
			return s.ProxyDevice == "service" && s.Keep == DefaultKeep && s.instance("web") == "web" && s.backupName("web") == "web"
		}},
		{raw: `{"remote":"standby","instance":"web1","backup":"web-prod","source_remote":"primary","keep":3}`, check: func(s Settings) bool {
			r, i := s.source("web")
			return s.instance("web") == "web1" && s.backupName("web") == "web-prod" && r == "primary" && i == "web1" && s.Keep == 3
		}},
		{raw: `{"remote":"standby","source_instance":"w"}`, check: func(s Settings) bool {
			r, i := s.source("web")
			return r == "standby" && i == "w"
		}},
		{raw: `{}`, wantErr: "remote is required"},
		{raw: `{"remote":"s","keep":-1}`, wantErr: "keep=-1"},
		{raw: `{"remote":"s","backup":"../etc"}`, wantErr: "backup: service name"},
		{raw: `{"remote":"s","backups":"x"}`, wantErr: `unknown field "backups"`},
	}
	for _, tc := range cases {
		s, err := ParseSettings(json.RawMessage(tc.raw))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err = %v, want %q", tc.raw, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !tc.check(s) {
			t.Errorf("%s: %+v, %v", tc.raw, s, err)
		}
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

func TestConformance(t *testing.T) {
	sdktest.Conformance(t, Strategy{}, sdktest.Options{ValidSettings: json.RawMessage(`{"remote":"standby","keep":3}`)})
}
