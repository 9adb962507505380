package daemonflag_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"

	"github.com/vcrcovery/vcrcovery/internal/daemonflag"
	"github.com/vcrcovery/vcrcovery/internal/daemonflag/daemonflagtest"
)

type parsed struct {
	web   *web.FlagConfig
	file  string
	age   time.Duration
	n     int
	check bool
}

func testApp(out io.Writer) (*kingpin.Application, *parsed) {
	p := &parsed{}
	app, fc := daemonflag.New(daemonflag.Daemon{Name: "vcr-test", Help: "Tests the shared flags.", Version: "1.2.3", ListenAddress: ":9999"}, out)
	p.web = fc
	app.Flag("config.file", "Configuration file.").Default("/etc/vcr/test.yml").StringVar(&p.file)
	app.Flag("max-age", "How long an answer is reused.").Default("10s").DurationVar(&p.age)
	app.Flag("count", "How many.").Default("1").IntVar(&p.n)
	app.Flag("check-config", "Validate, then exit.").BoolVar(&p.check)
	return app, p
}

// Every spelling Go's flag package took still parses, and kingpin's own.
func TestSpellings(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		file  string
		check bool
	}{
		{nil, "/etc/vcr/test.yml", false},
		{[]string{"--config.file", "a.yml"}, "a.yml", false},
		{[]string{"--config.file=a.yml"}, "a.yml", false},
		{[]string{"-config.file", "a.yml"}, "a.yml", false},
		{[]string{"-config.file=a.yml"}, "a.yml", false},
		{[]string{"--check-config"}, "/etc/vcr/test.yml", true},
		{[]string{"-check-config"}, "/etc/vcr/test.yml", true},
		{[]string{"--check-config=true"}, "/etc/vcr/test.yml", true},
		{[]string{"-check-config=1"}, "/etc/vcr/test.yml", true},
		{[]string{"--check-config=false"}, "/etc/vcr/test.yml", false},
		{[]string{"--no-check-config"}, "/etc/vcr/test.yml", false},
		{[]string{"--config.file", "-a.yml", "-check-config"}, "-a.yml", true},
		{[]string{"-config.file", "--", "--check-config"}, "--", true},
	} {
		app, p := testApp(io.Discard)
		if err := daemonflag.Parse(app, tc.args); err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if p.file != tc.file || p.check != tc.check {
			t.Errorf("%q: config.file %q check-config %v, want %q %v", tc.args, p.file, p.check, tc.file, tc.check)
		}
	}
}

func TestWebFlags(t *testing.T) {
	app, p := testApp(io.Discard)
	if err := daemonflag.Parse(app, nil); err != nil {
		t.Fatal(err)
	}
	if daemonflag.ListenAddresses(p.web) != ":9999" || *p.web.WebConfigFile != "" || *p.web.WebSystemdSocket {
		t.Errorf("defaults: %s %q %v", daemonflag.ListenAddresses(p.web), *p.web.WebConfigFile, *p.web.WebSystemdSocket)
	}
	app, p = testApp(io.Discard)
	if err := daemonflag.Parse(app, []string{"--web.listen-address=127.0.0.1:1", "-web.listen-address", "[::1]:1", "--web.systemd-socket", "-web.config.file=w.yml"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"127.0.0.1:1", "[::1]:1"}; !reflect.DeepEqual(*p.web.WebListenAddresses, want) {
		t.Errorf("listen addresses %v, want %v", *p.web.WebListenAddresses, want)
	}
	if daemonflag.ListenAddresses(p.web) != "127.0.0.1:1,[::1]:1" || !*p.web.WebSystemdSocket || *p.web.WebConfigFile != "w.yml" {
		t.Errorf("parsed %s %v %q", daemonflag.ListenAddresses(p.web), *p.web.WebSystemdSocket, *p.web.WebConfigFile)
	}
}

// A refused command line says which flag to fix and how.
func TestErrors(t *testing.T) {
	daemonflagtest.Refuses(t, func(args []string) error { app, _ := testApp(io.Discard); return daemonflag.Parse(app, args) }, []daemonflagtest.Refusal{
		{Args: []string{"--max-age", "soon"}, Want: []string{"--max-age", `"soon"`, "duration"}},
		{Args: []string{"-max-age=soon"}, Want: []string{"--max-age", "duration"}},
		{Args: []string{"--count", "many"}, Want: []string{"--count", "whole number"}},
		{Args: []string{"--config.file", "a", "--max-age", "1s", "--count=x"}, Want: []string{"--count", "whole number"}},
		{Args: []string{"--no-such-flag"}, Want: []string{"no-such-flag", "--help"}},
		{Args: []string{"-no-such-flag"}, Want: []string{"--help"}},
		{Args: []string{"positional"}, Want: []string{"positional", "--help"}},
		{Args: []string{"--config.file"}, Want: []string{"config.file"}},
		{Args: []string{"--config.file", "a", "--config.file", "b"}, Want: []string{"config.file", "cannot be repeated"}},
		{Args: []string{"--check-config=maybe"}, Want: []string{"maybe"}},
	})
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"-help"}, {"--version"}, {"-version"}} {
		var out bytes.Buffer
		app, _ := testApp(&out)
		if err := daemonflag.Parse(app, args); !errors.Is(err, daemonflag.ErrExit) {
			t.Errorf("%q: %v, want ErrExit", args, err)
		}
		want := []string{"Tests the shared flags.", "--config.file", "--web.listen-address", "--[no-]web.systemd-socket", "--web.config.file", "--[no-]check-config"}
		if args[0] == "--version" || args[0] == "-version" {
			want = []string{"vcr-test", "version"}
		}
		for _, w := range want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%q printed no %q:\n%s", args, w, out.String())
			}
		}
	}
}

// A flag that takes a value takes the next argument, as with Go's flag
// package, even one that starts with a dash.
func TestValueStartingWithADash(t *testing.T) {
	app, p := testApp(io.Discard)
	if err := daemonflag.Parse(app, []string{"--max-age", "-5s", "-count", "-2"}); err != nil {
		t.Fatal(err)
	}
	if p.age != -5*time.Second || p.n != -2 {
		t.Errorf("max-age %s count %d, want -5s -2", p.age, p.n)
	}
}

// Bare "--" ends the flags: what follows is not rewritten.
func TestDoubleDashEndsFlags(t *testing.T) {
	app, _ := testApp(io.Discard)
	got := daemonflag.GoFlagSpellings(app, []string{"-config.file", "a", "--", "-config.file", "--check-config=true"})
	if want := []string{"--config.file=a", "--", "-config.file", "--check-config=true"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCheckWebConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	bad := filepath.Join(dir, "bad.yml")
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(good, []byte("basic_auth_users: {am: "+string(hash)+"}\n"), 0o600)
	os.WriteFile(bad, []byte("tls_server_config: {cert_file: /nonexistent}\n"), 0o600)
	for file, ok := range map[string]bool{"": true, good: true, bad: false, filepath.Join(dir, "missing.yml"): false} {
		err := daemonflag.CheckWebConfig(&web.FlagConfig{WebConfigFile: &file})
		if (err == nil) != ok || err != nil && !strings.Contains(err.Error(), "--web.config.file") {
			t.Errorf("%q: %v", file, err)
		}
	}
}
