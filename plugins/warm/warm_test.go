package warm

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
)

func TestParseSettings(t *testing.T) {
	cases := []struct {
		raw     string
		want    Settings
		wantErr string
	}{
		{raw: `{"remote":"standby"}`, want: Settings{Remote: "standby", ProxyDevice: "service"}},
		{raw: `{"remote":"s","instance":"web1","proxy_device":"http"}`, want: Settings{Remote: "s", Instance: "web1", ProxyDevice: "http"}},
		{raw: `{"remote":"s","container":"web1"}`, want: Settings{Remote: "s", Instance: "web1", ProxyDevice: "service"}},
		{raw: `{"remote":"s","container":"a","instance":"b"}`, wantErr: "disagree"},
		{raw: ``, wantErr: "remote is required"},
		{raw: `{}`, wantErr: "remote is required"},
		{raw: `{"remote":"s","instnace":"x"}`, wantErr: `unknown field "instnace"`},
		{raw: `{"remote":1}`, wantErr: "cannot unmarshal"},
		{raw: `{"remote":"s"} {}`, wantErr: "trailing data"},
	}
	for _, tc := range cases {
		got, err := ParseSettings(json.RawMessage(tc.raw))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseSettings(%s) err = %v, want %q", tc.raw, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSettings(%s) = %+v, %v; want %+v", tc.raw, got, err, tc.want)
		}
	}
	if s, _ := ParseSettings(json.RawMessage(`{"remote":"s"}`)); s.InstanceFor("web") != "web" {
		t.Error("instance does not default to the service name")
	}
}

func TestParseRequest(t *testing.T) {
	s, sh, err := strategy.ParseRequest(json.RawMessage(`{"remote":"standby"}`), json.RawMessage(`{"backup_dir":"/b"}`), ParseSettings)
	if err != nil || s.Remote != "standby" || sh.BackupDir != "/b" {
		t.Fatalf("ParseRequest = %+v, %+v, %v", s, sh, err)
	}
	if _, _, err := strategy.ParseRequest(json.RawMessage(`{}`), nil, ParseSettings); err == nil || !strings.Contains(err.Error(), "warm settings: remote is required") {
		t.Errorf("missing remote: err = %v", err)
	}
	if _, _, err := strategy.ParseRequest(json.RawMessage(`{"remote":"s"}`), json.RawMessage(`[`), ParseSettings); err == nil || !strings.Contains(err.Error(), "shared settings from the receiver") {
		t.Errorf("bad shared settings: err = %v", err)
	}
}

func TestConformance(t *testing.T) {
	sdktest.Conformance(t, func() sdk.Strategy { return Strategy{} }, sdktest.Fixture{Settings: json.RawMessage(`{"remote":"standby"}`)})
}

func TestInfo(t *testing.T) {
	info, err := Strategy{}.Info(context.Background())
	if err != nil || info.Name != "warm" {
		t.Fatalf("%+v %v", info, err)
	}
}
