package scaleup

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
)

func TestParseSettings(t *testing.T) {
	cases := []struct {
		raw     string
		check   func(Settings) bool
		wantErr string
	}{
		{raw: `{"source":"standby","target":"bigvm"}`, check: func(s Settings) bool {
			return s.Live == LiveAuto && s.MaxMoves == 1 && time.Duration(s.SampleInterval) == 500*time.Millisecond &&
				s.ProxyDevice == "service" && reflect.DeepEqual(s.candidates("web"), []string{"web"})
		}},
		{raw: `{"source":"a","target":"b","instance":"web1","candidates":["web1","cache"],"max_moves":2,"target_load":1.5,"sample_interval":"1s","live":"off","proxy_device":"http"}`,
			check: func(s Settings) bool {
				return s.instance("web") == "web1" && len(s.candidates("web")) == 2 && s.MaxMoves == 2 && s.TargetLoad == 1.5 &&
					time.Duration(s.SampleInterval) == time.Second && s.Live == LiveOff && s.ProxyDevice == "http"
			}},
		{raw: `{"source":"a"}`, wantErr: "source and target are required"},
		{raw: `{"source":"a","target":"a"}`, wantErr: "must be another LXD daemon"},
		{raw: `{"source":"a","target":"b","live":"yes"}`, wantErr: `live="yes"`},
		{raw: `{"source":"a","target":"b","max_moves":-1}`, wantErr: "max_moves=-1"},
		{raw: `{"source":"a","target":"b","target_load":-1}`, wantErr: "target_load"},
		{raw: `{"source":"a","target":"b","sample_interval":"1ms"}`, wantErr: "at least 10ms"},
		{raw: `{"source":"a","target":"b","sample_interval":"2m"}`, wantErr: "10ms..1m"},
		{raw: `{"source":"a","target":"b","sample_interval":500}`, wantErr: "duration"},
		{raw: `{"source":"a","target":"b","sample":"1s"}`, wantErr: `unknown field "sample"`},
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

func TestConformance(t *testing.T) {
	sdktest.Conformance(t, func() sdk.Strategy { return &Strategy{} }, sdktest.Fixture{Settings: json.RawMessage(`{"source":"standby","target":"bigvm","live":"auto"}`)})
}

func TestSettingsAliases(t *testing.T) {
	s, err := ParseSettings(json.RawMessage(`{"from":"standby","to":"bigger","container":"web"}`))
	if err != nil || s.Source != "standby" || s.Target != "bigger" || s.instance("x") != "web" {
		t.Fatalf("%+v, %v", s, err)
	}
	if _, err := ParseSettings(json.RawMessage(`{"source":"a","from":"b","target":"c"}`)); err == nil || !strings.Contains(err.Error(), "disagree") {
		t.Fatalf("conflicting alias: %v", err)
	}
}

func TestValidateKeepsTheAddressScheme(t *testing.T) {
	shared := func(srcPool, dstPool string) json.RawMessage {
		b, _ := json.Marshal(sdk.SharedSettings{LXDRemotes: map[string]sdk.LXDRemote{
			"standby": {Socket: "/s", AddressPool: srcPool}, "bigvm": {Socket: "/b", AddressPool: dstPool}}})
		return b
	}
	ok := `{"source":"standby","target":"bigvm"}`
	for _, tc := range []struct {
		settings, src, dst string
		wantErr            bool
	}{
		{ok, "", "", false},
		{ok, "127.0.1.0/24", "127.0.3.0/24", false},
		{ok, "127.0.1.0/24", "", true},
		{`{"source":"standby","target":"bigvm","target_address":"127.0.4.2"}`, "127.0.1.0/24", "", false},
	} {
		err := (&Strategy{}).ValidateConfig(context.Background(), sdk.ValidateRequest{Settings: json.RawMessage(tc.settings), Shared: shared(tc.src, tc.dst)})
		if (err != nil) != tc.wantErr || (err != nil && !strings.Contains(err.Error(), "keeps an address of its own")) {
			t.Errorf("%s with pools %q/%q: err = %v", tc.settings, tc.src, tc.dst, err)
		}
	}
	if _, err := ParseSettings(json.RawMessage(`{"source":"a","target":"b","target_address":"bigvm"}`)); err == nil || !strings.Contains(err.Error(), "not an IP address") {
		t.Errorf("target_address not an IP: err = %v", err)
	}
}
