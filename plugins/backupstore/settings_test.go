package backupstore

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseSettings(t *testing.T) {
	cases := []struct {
		raw     string
		check   func(Settings) bool
		wantErr string
	}{
		{raw: `{"remote":"standby"}`, check: func(s Settings) bool {
			return s.ProxyDevice == "service" && s.Keep == DefaultKeep && s.InstanceFor("web") == "web" && s.FolderFor("web") == "web"
		}},
		{raw: `{"remote":"standby","instance":"web1","backup":"web-prod","source_remote":"primary","keep":3}`, check: func(s Settings) bool {
			r, i := s.SourceFor("web")
			return s.InstanceFor("web") == "web1" && s.FolderFor("web") == "web-prod" && r == "primary" && i == "web1" && s.Keep == 3
		}},
		{raw: `{"remote":"standby","source_instance":"w"}`, check: func(s Settings) bool {
			r, i := s.SourceFor("web")
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
