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
)

func TestParseFlags(t *testing.T) {
	c, err := parseFlags([]string{"--alertmanager.url", "http://a:9093", "--alertmanager.url=http://b:9093,http://c:9093",
		"--host", "hv1", "-cloud", "tokyo", "--snmp.host", "10.0.0.1=hv9"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"http://a:9093", "http://b:9093", "http://c:9093"}; !reflect.DeepEqual([]string(c.amURLs), want) {
		t.Errorf("alertmanager urls = %v, want %v", c.amURLs, want)
	}
	if c.listen() != ":9477" || c.uri != "qemu:///system" || c.socket != "/run/libvirt/libvirt-sock" || c.telemetryPath != "/metrics" {
		t.Errorf("defaults: %+v", c)
	}
	if c.host != "hv1" || c.cloud != "tokyo" || len(c.snmpHosts) != 1 {
		t.Errorf("parsed %+v", c)
	}
	for _, bad := range [][]string{
		{"--web.telemetry-path", "metrics"},
		{"--host", ""},
		{"--no-such-flag"},
		{"positional"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%v) accepted", bad)
		}
	}
}

// Every default the docs, the systemd unit and the tests rely on.
func TestFlagDefaults(t *testing.T) {
	c, err := parseFlags([]string{"--host", "hv1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	daemonflagtest.Defaults(t, map[string][2]any{
		"web.listen-address":                {c.listen(), ":9477"},
		"web.systemd-socket":                {*c.web.WebSystemdSocket, false},
		"web.config.file":                   {*c.web.WebConfigFile, ""},
		"libvirt.dial-timeout":              {c.dialTimeout, 5 * time.Second},
		"libvirt.xml-ttl":                   {c.xmlTTL, 10 * time.Minute},
		"libvirt.job-interval":              {c.jobInterval, 15 * time.Second},
		"libvirt.pool-interval":             {c.poolRefresh, time.Minute},
		"alertmanager.attempts":             {c.amAttempts, 5},
		"alertmanager.queue-size":           {c.amQueue, 1024},
		"alertmanager.resend-interval":      {c.amResend, time.Minute},
		"alertmanager.timeout":              {c.amTimeout, 5 * time.Second},
		"alertmanager.http-config-file":     {c.amHTTPConfig, ""},
		"alertmanager.standby-domain-regex": {c.amStandbyRegex, "vcr-standby(-.+)?"},
		"snmp.community":                    {c.snmpCommunity, ""},
		"snmp.allow-unauthenticated":        {c.snmpAllowUnauthenticated, false},
		"snmp.trap-address":                 {c.snmpAddr, ""},
		"cloud":                             {c.cloud, ""},
		"scrape.timeout":                    {c.scrapeTimeout, 10 * time.Second},
		"events.retention":                  {c.retention, 10 * time.Minute},
		"lxd.role":                          {c.lxdRole, "standby"},
		"lxd.cpus":                          {c.lxdCPUs, 0.0},
		"log.level":                         {c.logLevel, "info"},
		"log.format":                        {c.logFormat, "logfmt"},
	})
}

// exporter-toolkit's flags: several listen addresses and socket activation.
func TestWebFlags(t *testing.T) {
	c, err := parseFlags([]string{"--host=hv1", "--web.listen-address=127.0.0.1:9477", "-web.listen-address", "[::1]:9477",
		"--web.systemd-socket", "--libvirt.metadata-label", "team=https://example.com/ops/1#owner/team"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"127.0.0.1:9477", "[::1]:9477"}; !reflect.DeepEqual(*c.web.WebListenAddresses, want) {
		t.Errorf("listen addresses %v, want %v", *c.web.WebListenAddresses, want)
	}
	if !*c.web.WebSystemdSocket {
		t.Error("--web.systemd-socket not set")
	}
	if len(c.metadataLabels) != 1 {
		t.Errorf("metadata labels %v", c.metadataLabels)
	}
}

// --help explains every flag; --version prints the build; both exit 0.
func TestHelpAndVersion(t *testing.T) {
	var out bytes.Buffer
	if _, err := parseFlags([]string{"--help"}, &out); !errors.Is(err, daemonflag.ErrExit) {
		t.Fatalf("--help: %v", err)
	}
	daemonflagtest.ExplainsEveryFlag(t, []string{"--help"}, out.String(), newApp(&config{}, io.Discard))
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, daemonflag.ErrExit) {
		t.Errorf("-h: %v", err)
	}
}

// The fast path's flags: the standby regex (default: prometheus.yml's),
// and the HTTP client configuration, checked at start-up.
func TestFastPathOptions(t *testing.T) {
	c, err := parseFlags([]string{"--host", "hv1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o, err := fastPathOptions(c); o != nil || err != nil {
		t.Fatalf("fast path without --alertmanager.url: %+v %v", o, err)
	}
	c, err = parseFlags([]string{"--host", "hv1", "--alertmanager.url", "http://am:9093"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o, err := fastPathOptions(c)
	if err != nil {
		t.Fatal(err)
	}
	if o.StandbyDomains == nil || !o.StandbyDomains.MatchString("vcr-standby-1") || o.StandbyDomains.MatchString("web") {
		t.Errorf("default standby regex %v", o.StandbyDomains)
	}
	for _, bad := range [][]string{
		{"--alertmanager.standby-domain-regex", "("},
		{"--alertmanager.http-config-file", "/nonexistent/http.yml"},
	} {
		c, err := parseFlags(append([]string{"--host", "hv1", "--alertmanager.url", "http://am:9093"}, bad...), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fastPathOptions(c); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%v: err %v, want one naming the flag", bad, err)
		}
	}
}

// A trap receiver needs a community or an allowlist, or to be told that it
// may take anyone's traps; the allowlist is parsed at start-up.
func TestSNMPOptions(t *testing.T) {
	parse := func(args ...string) *config {
		c, err := parseFlags(append([]string{"--host", "hv1", "--snmp.trap-address", ":9162"}, args...), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	o, err := snmpOptions(parse("--snmp.allow", "10.0.0.0/24", "--snmp.allow=192.0.2.7", "--snmp.host", "10.0.0.7=hv7"))
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Allow) != 2 || o.Hosts["10.0.0.7"] != "hv7" || o.Community != "" || o.AllowUnauthenticated {
		t.Errorf("options %+v", o)
	}
	if o, _ := snmpOptions(parse("--snmp.allow-unauthenticated")); !o.AllowUnauthenticated {
		t.Error("--snmp.allow-unauthenticated not passed on")
	}
	if _, err := snmpOptions(parse("--snmp.allow", "not-an-address")); err == nil {
		t.Error("bad --snmp.allow accepted")
	}
	if _, err := snmpOptions(parse("--snmp.host", "10.0.0.7")); err == nil {
		t.Error("bad --snmp.host accepted")
	}
}
