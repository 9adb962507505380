package ui

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/config"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

func TestLXDStandbyUnsupportedWithoutRemotes(t *testing.T) {
	if _, err := NewLXDStandby(nil).Standby(context.Background()); !errors.Is(err, ErrUnsupported) {
		t.Errorf("no remotes: err = %v, want ErrUnsupported", err)
	}
}

func TestLXDStandbyUnreachableRemote(t *testing.T) {
	s := NewLXDStandby(map[string]config.LXDRemote{"standby": {Socket: "/nonexistent/unix.socket", Address: "127.0.0.2"}})
	vms, err := s.Standby(context.Background())
	if err != nil || len(vms) != 1 || !strings.Contains(vms[0].Error, `cannot reach LXD "standby"`) {
		t.Errorf("unreachable remote: %+v, %v; want the VM listed with its error", vms, err)
	}
}

// TestLXDStandbyRealDaemon reads containers and their load from a real LXD,
// over HTTPS with a client certificate as the receiver would.
func TestLXDStandbyRealDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real LXD daemon; skipped with -short")
	}
	x := testenv.StartLXD(t, testenv.LXDOptions{Name: "standby", Address: "127.0.0.2"})
	x.LaunchService(t, "web", testenv.FreePort(t))
	x.Lxc(t, "init", "busybox", "db") // created, not started
	s := NewLXDStandby(map[string]config.LXDRemote{
		"standby": {URL: x.URL, ClientCert: x.ClientCert, ClientKey: x.ClientKey, ServerCert: x.ServerCert, Address: x.Address},
	})
	ctx := context.Background()
	vms, err := s.Standby(ctx)
	if err != nil || len(vms) != 1 || vms[0].Error != "" {
		t.Fatalf("Standby = %+v, %v", vms, err)
	}
	got := map[string]Container{}
	for _, c := range vms[0].Containers {
		got[c.Name] = c
	}
	web, db := got["web"], got["db"]
	if web.Status != "Running" || web.Processes < 1 || web.MemoryBytes <= 0 || web.CPUSeconds <= 0 {
		t.Errorf("web = %+v, want running with processes, memory and CPU time", web)
	}
	if web.CPUPercent >= 0 {
		t.Errorf("first sample cannot have a CPU rate, got %.2f%%", web.CPUPercent)
	}
	if db.Status != "Stopped" {
		t.Errorf("db = %+v, want Stopped", db)
	}
	time.Sleep(300 * time.Millisecond)
	vms, _ = s.Standby(ctx)
	for _, c := range vms[0].Containers {
		if c.Name == "web" && (c.CPUPercent < 0 || c.CPUPercent > 100*64) {
			t.Errorf("second sample: web CPU %.2f%%, want a rate", c.CPUPercent)
		}
	}
}
