package main

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/internal/daemonflag"
	"github.com/vcrcovery/vcrcovery/internal/daemonflag/daemonflagtest"
	"github.com/vcrcovery/vcrcovery/receiver/capacity"
)

// Every flag's default, as the docs and deploy/systemd/vcr-receiver.service
// rely on them.
func TestFlagDefaults(t *testing.T) {
	f, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	daemonflagtest.Defaults(t, map[string][2]any{
		"config.file":               {f.configFile, "/etc/vcr/receiver.yml"},
		"web.listen-address":        {daemonflag.ListenAddresses(f.web), ":9478"},
		"web.systemd-socket":        {*f.web.WebSystemdSocket, false},
		"web.config.file":           {*f.web.WebConfigFile, ""},
		"web.allow-unauthenticated": {f.allowUnauthenticated, false},
		"log.level":                 {f.logLevel, "info"},
		"log.format":                {f.logFormat, "logfmt"},
		"check-config":              {f.checkConfig, false},
		"capacity.max-age":          {f.capacityMaxAge, capacity.DefaultMaxAge},
	})
}

// Each spelling the receiver took with Go's flag package still works.
func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		check func(flags) bool
	}{
		{[]string{"--config.file", "r.yml"}, func(f flags) bool { return f.configFile == "r.yml" }},
		{[]string{"--config.file=r.yml"}, func(f flags) bool { return f.configFile == "r.yml" }},
		{[]string{"-config.file", "r.yml"}, func(f flags) bool { return f.configFile == "r.yml" }},
		{[]string{"-config.file=r.yml"}, func(f flags) bool { return f.configFile == "r.yml" }},
		{[]string{"--web.listen-address", "127.0.0.1:1"}, func(f flags) bool { return daemonflag.ListenAddresses(f.web) == "127.0.0.1:1" }},
		{[]string{"-web.listen-address=127.0.0.1:1", "--web.listen-address", "[::1]:1"}, func(f flags) bool {
			return reflect.DeepEqual(*f.web.WebListenAddresses, []string{"127.0.0.1:1", "[::1]:1"})
		}},
		{[]string{"--web.systemd-socket"}, func(f flags) bool { return *f.web.WebSystemdSocket }},
		{[]string{"-web.config.file", "w.yml"}, func(f flags) bool { return *f.web.WebConfigFile == "w.yml" }},
		{[]string{"--web.allow-unauthenticated"}, func(f flags) bool { return f.allowUnauthenticated }},
		{[]string{"-web.allow-unauthenticated=true"}, func(f flags) bool { return f.allowUnauthenticated }},
		{[]string{"--web.allow-unauthenticated=false"}, func(f flags) bool { return !f.allowUnauthenticated }},
		{[]string{"--log.level", "debug", "-log.format=json"}, func(f flags) bool { return f.logLevel == "debug" && f.logFormat == "json" }},
		{[]string{"--check-config"}, func(f flags) bool { return f.checkConfig }},
		{[]string{"-check-config"}, func(f flags) bool { return f.checkConfig }},
		{[]string{"--capacity.max-age", "1s"}, func(f flags) bool { return f.capacityMaxAge == time.Second }},
		{[]string{"--capacity.max-age=1m30s"}, func(f flags) bool { return f.capacityMaxAge == 90*time.Second }},
		{[]string{"-capacity.max-age", "500ms"}, func(f flags) bool { return f.capacityMaxAge == 500*time.Millisecond }},
	} {
		f, err := parseFlags(tc.args, io.Discard)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if !tc.check(f) {
			t.Errorf("%q: parsed %+v", tc.args, f)
		}
	}
}

// A refused command line names the flag at fault and what to give.
func TestFlagErrors(t *testing.T) {
	daemonflagtest.Refuses(t, func(args []string) error { _, err := parseFlags(args, io.Discard); return err }, []daemonflagtest.Refusal{
		{Args: []string{"--capacity.max-age", "0s"}, Want: []string{"--capacity.max-age", "positive duration"}},
		{Args: []string{"--capacity.max-age", "-5s"}, Want: []string{"--capacity.max-age", "positive duration"}},
		{Args: []string{"--capacity.max-age", "soon"}, Want: []string{"--capacity.max-age", "duration such as"}},
		{Args: []string{"--web.allow-unauthenticated=maybe"}, Want: []string{"maybe"}},
		{Args: []string{"--no-such-flag"}, Want: []string{"no-such-flag", "--help"}},
		{Args: []string{"positional"}, Want: []string{"positional", "--help"}},
		{Args: []string{"--config.file"}, Want: []string{"config.file"}},
	})
}

// --help explains every flag and what the receiver does; --version prints
// the build; both end the program with status 0.
func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"-help"}} {
		var out bytes.Buffer
		if _, err := parseFlags(args, &out); !errors.Is(err, daemonflag.ErrExit) {
			t.Fatalf("%q: %v", args, err)
		}
		daemonflagtest.ExplainsEveryFlag(t, args, out.String(), newApp(&flags{}, io.Discard), "POST /api/v1/alerts", "/api/v1/incidents/{id}/cancel", "SIGHUP", "--check-config")
	}
	var out bytes.Buffer
	if _, err := parseFlags([]string{"--version"}, &out); !errors.Is(err, daemonflag.ErrExit) || !strings.Contains(out.String(), "vcr-receiver, version") {
		t.Errorf("--version: %v\n%s", err, out.String())
	}
}
