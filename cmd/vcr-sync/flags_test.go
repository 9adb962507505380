package main

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/internal/daemonflag"
	"github.com/vcrcovery/vcrcovery/internal/daemonflag/daemonflagtest"
)

// Every flag's default, as datasync/README.md and
// deploy/systemd/vcr-sync.service rely on them.
func TestFlagDefaults(t *testing.T) {
	f, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	daemonflagtest.Defaults(t, map[string][2]any{
		"config.file":        {f.configFile, "/etc/vcr/sync.yml"},
		"web.listen-address": {daemonflag.ListenAddresses(f.web), ":9480"},
		"web.systemd-socket": {*f.web.WebSystemdSocket, false},
		"web.config.file":    {*f.web.WebConfigFile, ""},
		"log.level":          {f.logLevel, "info"},
		"log.format":         {f.logFormat, "logfmt"},
		"check-config":       {f.checkConfig, false},
	})
}

// Each spelling vcr-sync took with Go's flag package still works.
func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		check func(flags) bool
	}{
		{[]string{"--config.file", "x.yml"}, func(f flags) bool { return f.configFile == "x.yml" }},
		{[]string{"--config.file=x.yml"}, func(f flags) bool { return f.configFile == "x.yml" }},
		{[]string{"-config.file", "x.yml"}, func(f flags) bool { return f.configFile == "x.yml" }},
		{[]string{"-config.file=x.yml"}, func(f flags) bool { return f.configFile == "x.yml" }},
		{[]string{"--web.listen-address", "127.0.0.1:1"}, func(f flags) bool { return daemonflag.ListenAddresses(f.web) == "127.0.0.1:1" }},
		{[]string{"-web.listen-address=127.0.0.1:1", "--web.listen-address", "[::1]:1"}, func(f flags) bool {
			return reflect.DeepEqual(*f.web.WebListenAddresses, []string{"127.0.0.1:1", "[::1]:1"})
		}},
		{[]string{"--web.systemd-socket"}, func(f flags) bool { return *f.web.WebSystemdSocket }},
		{[]string{"-web.config.file", "w.yml"}, func(f flags) bool { return *f.web.WebConfigFile == "w.yml" }},
		{[]string{"--log.level=debug", "-log.format", "json"}, func(f flags) bool { return f.logLevel == "debug" && f.logFormat == "json" }},
		{[]string{"--check-config"}, func(f flags) bool { return f.checkConfig }},
		{[]string{"-check-config"}, func(f flags) bool { return f.checkConfig }},
		{[]string{"--check-config=true"}, func(f flags) bool { return f.checkConfig }},
		{[]string{"-check-config=false"}, func(f flags) bool { return !f.checkConfig }},
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

// A refused command line names what is wrong and points to --help.
func TestFlagErrors(t *testing.T) {
	daemonflagtest.Refuses(t, func(args []string) error { _, err := parseFlags(args, io.Discard); return err }, []daemonflagtest.Refusal{
		{Args: []string{"positional"}, Want: []string{"positional", "--help"}},
		{Args: []string{"--no-such-flag"}, Want: []string{"no-such-flag", "--help"}},
		{Args: []string{"--config.file"}, Want: []string{"config.file"}},
		{Args: []string{"--check-config=maybe"}, Want: []string{"maybe"}},
		{Args: []string{"--config.file", "a.yml", "--config.file", "b.yml"}, Want: []string{"config.file", "cannot be repeated"}},
	})
}

// --help explains every flag, the API and the signals; --version prints the
// build; both end the program with status 0.
func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"-help"}} {
		var out bytes.Buffer
		if _, err := parseFlags(args, &out); !errors.Is(err, daemonflag.ErrExit) {
			t.Fatalf("%q: %v", args, err)
		}
		daemonflagtest.ExplainsEveryFlag(t, args, out.String(), newApp(&flags{}, io.Discard), "POST /api/v1/services/{name}/promote", "SIGTERM", "--check-config")
	}
	for _, args := range [][]string{{"--version"}, {"-version"}} {
		var out bytes.Buffer
		if _, err := parseFlags(args, &out); !errors.Is(err, daemonflag.ErrExit) || !strings.Contains(out.String(), "vcr-sync, version") {
			t.Errorf("%q: %v\n%s", args, err, out.String())
		}
	}
}
