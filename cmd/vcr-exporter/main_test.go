package main

import (
	"os"
	"reflect"
	"testing"
)

func TestParseFlags(t *testing.T) {
	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	c, err := parseFlags([]string{"--alertmanager.url", "http://a:9093", "--alertmanager.url=http://b:9093,http://c:9093",
		"--host", "hv1", "-cloud", "tokyo", "--snmp.host", "10.0.0.1=hv9"}, devnull)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"http://a:9093", "http://b:9093", "http://c:9093"}; !reflect.DeepEqual([]string(c.amURLs), want) {
		t.Errorf("alertmanager urls = %v, want %v", c.amURLs, want)
	}
	if c.listen != ":9477" || c.uri != "qemu:///system" || c.socket != "/run/libvirt/libvirt-sock" || c.telemetryPath != "/metrics" {
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
		if _, err := parseFlags(bad, devnull); err == nil {
			t.Errorf("parseFlags(%v) accepted", bad)
		}
	}
}
