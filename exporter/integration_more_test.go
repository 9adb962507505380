package exporter

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// sendTrap sends one trap with Debian's net-snmp CLI; MIBs are not needed
// since every OID is numeric.
func sendTrap(t *testing.T, addr string, varbinds ...string) {
	t.Helper()
	args := append([]string{"-m", "", "-v", "2c", "-c", "public", addr, "", ".1.3.6.1.4.1.36957.0.1"}, varbinds...)
	cmd := exec.Command("snmptrap", args...)
	cmd.Env = append(os.Environ(), "MIBS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		if _, lerr := exec.LookPath("snmptrap"); lerr != nil {
			t.Fatalf("snmptrap not found: install Debian package snmp (make deps)")
		}
		t.Fatalf("snmptrap %v: %v\n%s", args, err, out)
	}
}

// Traps from a libvirt-snmp agent (sent here with snmptrap) count as
// lifecycle events of the sending host: exported, and pushed to a real
// Alertmanager; malformed ones are counted and ignored.
func TestIntegrationSNMPTraps(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (needs libvirtd, Alertmanager and snmptrap)")
	}
	lv := testenv.Libvirt(t)
	td := lv.TestDriver(t)
	am := testenv.StartAlertmanager(t, testenv.AlertmanagerOptions{})
	trapAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	remote := testenv.UniqueName(t, "remote-")
	exp := startExporter(t, lv, td.URI, "--alertmanager.url", am.URL, "--host", "local", "--cloud", "itest",
		"--snmp.trap-address", trapAddr, "--snmp.host", "127.0.0.1="+remote, "--snmp.community", "public", "--snmp.allow", "127.0.0.0/8")

	const col = ".1.3.6.1.4.1.36957.1.1.1."
	uuid := "0a0b0c0d-1111-2222-3333-444455556666"
	hexUUID := strings.ReplaceAll(uuid, "-", "")
	sendTrap(t, trapAddr, col+"2.0", "s", "guest1", col+"1.0", "x", hexUUID, col+"3.0", "i", "6", col+"9.0", "i", "2")
	// Malformed: the state as a string, and a datagram that is not SNMP.
	sendTrap(t, trapAddr, col+"2.0", "s", "guest1", col+"1.0", "x", hexUUID, col+"3.0", "s", "crashed")
	c, err := net.Dial("udp", trapAddr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("definitely not BER"))
	c.Close()

	eventually(t, 5*time.Second, "trap state exported", metricIs(t, exp, "vcr_snmp_domain_state",
		map[string]string{"sender": remote, "domain": "guest1", "uuid": uuid}, 6))
	eventually(t, 5*time.Second, "malformed traps counted", metricIs(t, exp, "vcr_snmp_traps_total", map[string]string{"result": "malformed"}, 2))
	eventually(t, 5*time.Second, "valid trap counted", metricIs(t, exp, "vcr_snmp_traps_total", map[string]string{"result": "ok"}, 1))
	eventually(t, 5*time.Second, "event counted", metricIs(t, exp, "vcr_snmp_guest_events_total", map[string]string{"sender": remote, "event": "crashed"}, 1))
	want := map[string]string{"alertname": failure.AlertCrashed, "domain": "guest1", "uuid": uuid, "host": remote, "cloud": "itest"}
	eventually(t, 5*time.Second, "trap alert in Alertmanager", func() string {
		a := findAlert(am.Alerts(t), want)
		if a == nil {
			return fmt.Sprintf("no %v", want)
		}
		if a.Annotations["origin"] != "snmp" {
			return fmt.Sprintf("origin annotation %q", a.Annotations["origin"])
		}
		return ""
	})
	// The guest runs again: the alert resolves.
	sendTrap(t, trapAddr, col+"2.0", "s", "guest1", col+"1.0", "x", hexUUID, col+"3.0", "i", "1", col+"9.0", "i", "1")
	eventually(t, 10*time.Second, "trap alert resolved", func() string {
		if findAlert(am.Alerts(t), want) != nil {
			return "still listed"
		}
		return ""
	})
}

// libvirtd stops and starts mid-run: vcr_libvirt_up drops to 0 while the
// exporter keeps serving, then it reconnects, resubscribes, and events
// flow again.
func TestIntegrationLibvirtdRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (restarts libvirtd)")
	}
	lv := testenv.Libvirt(t)
	td := lv.TestDriver(t)
	exp := startExporter(t, lv, td.URI, "--host", "restart", "--scrape.timeout", "3s")
	eventually(t, 10*time.Second, "libvirt up", metricIs(t, exp, "vcr_libvirt_up", nil, 1))
	eventually(t, 5*time.Second, "subscribed", metricIs(t, exp, "vcr_libvirt_events_subscribed", nil, 1))

	lv.StopDaemon(t)
	restarted := false
	defer func() {
		if !restarted {
			lv.StartDaemon(t)
		}
	}()
	eventually(t, 10*time.Second, "libvirt down", metricIs(t, exp, "vcr_libvirt_up", nil, 0))
	eventually(t, 5*time.Second, "unsubscribed", metricIs(t, exp, "vcr_libvirt_events_subscribed", nil, 0))
	s, err := exp.scrape(t)
	if err != nil {
		t.Fatalf("exporter stopped serving while libvirtd is down: %v", err)
	}
	if v, _ := s.Get("vcr_scrape_collector_success", map[string]string{"collector": "libvirt"}); v != 0 {
		t.Errorf("libvirt collector success = %v while libvirtd is down", v)
	}

	lv.StartDaemon(t)
	restarted = true
	eventually(t, 20*time.Second, "libvirt up again", metricIs(t, exp, "vcr_libvirt_up", nil, 1))
	eventually(t, 5*time.Second, "resubscribed", metricIs(t, exp, "vcr_libvirt_events_subscribed", nil, 1))
	eventually(t, 5*time.Second, "reconnect counted", metricIs(t, exp, "vcr_libvirt_connections_total", nil, 2))

	// The test driver's state died with the daemon: a new connection, a new
	// domain, and its events must reach the exporter.
	before, err := exp.scrape(t)
	if err != nil {
		t.Fatal(err)
	}
	stopped0, _ := before.Get("vcr_domain_lifecycle_events_total", map[string]string{"event": "stopped"})
	td2 := lv.TestDriver(t)
	_, name := td2.DefineNamed(t, "")
	td2.Destroy(t, name)
	eventually(t, 5*time.Second, "events flow after reconnect", func() string {
		s, err := exp.scrape(t)
		if err != nil {
			return err.Error()
		}
		if v, _ := s.Get("vcr_domain_lifecycle_events_total", map[string]string{"event": "stopped"}); v < stopped0+1 {
			return fmt.Sprintf("stopped events %v, want > %v", v, stopped0)
		}
		return ""
	})
}

// A real QEMU (TCG) domain: CPU time grows while it runs, and destroying it
// shows up as shut off, with the fast-path alert in Alertmanager.
func TestIntegrationQEMUDomain(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (boots a QEMU domain)")
	}
	lv := testenv.Libvirt(t)
	am := testenv.StartAlertmanager(t, testenv.AlertmanagerOptions{})
	exp := startExporter(t, lv, "qemu:///system", "--alertmanager.url", am.URL, "--host", "qemu-host", "--cloud", "itest")
	vm := lv.StartVM(t, testenv.VMOptions{})
	sel := map[string]string{"domain": vm.Name, "uuid": vm.UUID}

	cpuAt := func() (float64, string) {
		s, err := exp.scrape(t)
		if err != nil {
			return 0, err.Error()
		}
		v, ok := s.Get("vcr_domain_cpu_seconds_total", sel)
		if !ok {
			return 0, "no vcr_domain_cpu_seconds_total for " + vm.Name
		}
		return v, ""
	}
	eventually(t, 5*time.Second, "vm running", metricIs(t, exp, "vcr_domain_state", sel, 1))
	c1, msg := cpuAt()
	if msg != "" {
		t.Fatal(msg)
	}
	eventually(t, 10*time.Second, "cpu time increases", func() string {
		c2, msg := cpuAt()
		if msg != "" {
			return msg
		}
		if c2 <= c1 {
			return fmt.Sprintf("cpu seconds %v, then %v", c1, c2)
		}
		return ""
	})
	s, err := exp.scrape(t)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"vcr_domain_vcpus", "vcr_domain_memory_current_bytes", "vcr_domain_memory_max_bytes"} {
		if v, ok := s.Get(n, sel); !ok || v <= 0 {
			t.Errorf("%s = %v (present %v), want > 0", n, v, ok)
		}
	}

	vm.Destroy(t, lv)
	eventually(t, 10*time.Second, "vm shut off or gone", func() string {
		s, err := exp.scrape(t)
		if err != nil {
			return err.Error()
		}
		// A persistent domain stays listed as shut off; a transient one is
		// kept by the event cache with the state its stop event left.
		if v, ok := s.Get("vcr_domain_state", sel); !ok || v != 5 {
			return fmt.Sprintf("state %v (present %v), want 5", v, ok)
		}
		return ""
	})
	want := map[string]string{"alertname": failure.AlertShutoff, "domain": vm.Name, "uuid": vm.UUID, "host": "qemu-host"}
	eventually(t, 5*time.Second, "fast-path alert", func() string {
		if a := findAlert(am.Alerts(t), want); a == nil {
			return "no alert"
		} else if a.Annotations["event"] != "stopped/destroyed" {
			return "event annotation " + a.Annotations["event"]
		}
		return ""
	})
}
