package exporter

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// runningExporter is a vcr-exporter binary started for one test.
type runningExporter struct {
	Proc *testenv.Proc
	Addr string
}

func (e *runningExporter) scrape(t *testing.T) (exportertest.Samples, error) {
	return exportertest.ScrapeURL(t, "http://"+e.Addr+"/metrics")
}

func startExporter(t *testing.T, lv *testenv.LibvirtEnv, uri string, extra ...string) *runningExporter {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	args := append([]string{"--web.listen-address", addr, "--libvirt.uri", uri, "--libvirt.socket", lv.Socket,
		"--log.level", "debug"}, extra...)
	p := testenv.StartDaemon(t, testenv.DaemonSpec{
		Name: "vcr-exporter", Path: testenv.Binary(t, "vcr-exporter"), Args: args,
		Ready: func() error { return testenv.HTTPOK("http://" + addr + "/-/ready") },
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vcr-exporter log tail:\n%s", p.Tail(40))
		}
	})
	return &runningExporter{Proc: p, Addr: addr}
}

// eventually polls cond every 100 ms until it returns "" or timeout passes,
// then fails with cond's last complaint.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		if last = cond(); last == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s: %s", what, timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metricIs returns a cond for eventually: series name{labels} == want.
func metricIs(t *testing.T, e *runningExporter, name string, labels map[string]string, want float64) func() string {
	return func() string {
		s, err := e.scrape(t)
		if err != nil {
			return err.Error()
		}
		v, ok := s.Get(name, labels)
		if !ok {
			return fmt.Sprintf("no series %s%v", name, labels)
		}
		if v != want {
			return fmt.Sprintf("%s%v = %v, want %v", name, labels, v, want)
		}
		return ""
	}
}

func findAlert(alerts []testenv.AlertSummary, labels map[string]string) *testenv.AlertSummary {
next:
	for i := range alerts {
		for k, v := range labels {
			if alerts[i].Labels[k] != v {
				continue next
			}
		}
		return &alerts[i]
	}
	return nil
}

// Three test-driver domains: one destroyed, one paused, one left running.
// The metrics, the event counters and the fast-path alert in a real
// Alertmanager must follow, and the alert must resolve when the domain
// starts again.
func TestIntegrationTestDriver(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (needs libvirtd and Alertmanager)")
	}
	lv := testenv.Libvirt(t)
	td := lv.TestDriver(t)
	am := testenv.StartAlertmanager(t, testenv.AlertmanagerOptions{})
	host := testenv.UniqueName(t, "hv-")
	exp := startExporter(t, lv, td.URI, "--alertmanager.url", am.URL, "--host", host, "--cloud", "itest")

	eventually(t, 10*time.Second, "libvirt up", metricIs(t, exp, "vcr_libvirt_up", nil, 1))
	before, err := exp.scrape(t)
	if err != nil {
		t.Fatal(err)
	}
	started0, _ := before.Get("vcr_domain_lifecycle_events_total", map[string]string{"event": "started"})
	stopped0, _ := before.Get("vcr_domain_lifecycle_events_total", map[string]string{"event": "stopped"})
	suspended0, _ := before.Get("vcr_domain_lifecycle_events_total", map[string]string{"event": "suspended"})

	var names, uuids [3]string
	for i := range names {
		uuids[i], names[i] = td.DefineNamed(t, "")
	}
	for i := range names {
		eventually(t, 5*time.Second, names[i]+" running",
			metricIs(t, exp, "vcr_domain_state", map[string]string{"domain": names[i], "uuid": uuids[i], "host": host, "cloud": "itest"}, 1))
	}
	td.Destroy(t, names[0])
	td.Suspend(t, names[1])

	eventually(t, 5*time.Second, "destroyed domain shut off", metricIs(t, exp, "vcr_domain_state", map[string]string{"domain": names[0]}, 5))
	eventually(t, 5*time.Second, "suspended domain paused", metricIs(t, exp, "vcr_domain_state", map[string]string{"domain": names[1]}, 3))
	s, err := exp.scrape(t)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get("vcr_domain_state", map[string]string{"domain": names[2]}); v != 1 {
		t.Errorf("untouched domain state = %v, want 1", v)
	}
	for _, c := range []struct {
		event string
		base  float64
	}{{"started", started0 + 3}, {"stopped", stopped0 + 1}, {"suspended", suspended0 + 1}} {
		// Other tests may share the test driver, so at least, not exactly.
		if v, _ := s.Get("vcr_domain_lifecycle_events_total", map[string]string{"event": c.event}); v < c.base {
			t.Errorf("vcr_domain_lifecycle_events_total{event=%q} = %v, want >= %v", c.event, v, c.base)
		}
	}
	// libvirt 9.0's test driver reports only the state group; CPU, memory,
	// block and network are checked on a real QEMU domain.
	for _, n := range []string{"vcr_domain_info", "vcr_domain_state_reason"} {
		if _, ok := s.Get(n, map[string]string{"domain": names[2]}); !ok {
			t.Errorf("no %s for %s; have %s", n, names[2], s)
		}
	}
	if v, _ := s.Get("vcr_scrape_collector_success", map[string]string{"collector": "libvirt"}); v != 1 {
		t.Errorf("libvirt collector success = %v", v)
	}

	// The fast path: a VCRDomainShutoff for the destroyed domain, nothing for
	// the paused or running ones.
	want := map[string]string{"alertname": failure.AlertShutoff, "domain": names[0], "uuid": uuids[0], "host": host,
		"cloud": "itest", "severity": "critical"}
	eventually(t, 5*time.Second, "fast-path alert in Alertmanager", func() string {
		if findAlert(am.Alerts(t), want) == nil {
			return fmt.Sprintf("no alert %v in %v", want, am.Alerts(t))
		}
		return ""
	})
	alerts := am.Alerts(t)
	a := findAlert(alerts, want)
	if a.Annotations["source"] != "fastpath" || a.Annotations["event"] != "stopped/destroyed" {
		t.Errorf("alert annotations = %v", a.Annotations)
	}
	for _, n := range names[1:] {
		if x := findAlert(alerts, map[string]string{"domain": n}); x != nil {
			t.Errorf("unexpected alert for %s: %v", n, x.Labels)
		}
	}

	// Restart: the alert resolves (endsAt = now), so Alertmanager stops
	// listing it, long before its own 4-minute validity.
	td.Start(t, names[0])
	eventually(t, 10*time.Second, "alert resolved", func() string {
		if x := findAlert(am.Alerts(t), want); x != nil {
			return fmt.Sprintf("still listed, endsAt %s", x.EndsAt)
		}
		return ""
	})
	eventually(t, 5*time.Second, "pushes counted", func() string {
		s, err := exp.scrape(t)
		if err != nil {
			return err.Error()
		}
		amHost := strings.TrimPrefix(am.URL, "http://")
		if v, _ := s.Get("vcr_alertmanager_pushes_total", map[string]string{"alertmanager": amHost, "result": "success"}); v < 2 {
			return fmt.Sprintf("successful pushes = %v, want >= 2 (fire, resolve)", v)
		}
		return ""
	})
}

// The exporter's help must explain every flag that README.md ("Syntax")
// promises and scripts depend on.
func TestIntegrationHelp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	out, err := exec.Command(testenv.Binary(t, "vcr-exporter"), "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	for _, f := range []string{"web.listen-address", "web.telemetry-path", "web.config.file", "web.systemd-socket", "libvirt.uri", "libvirt.socket",
		"libvirt.metadata-label", "libvirt.xml-ttl", "libvirt.job-interval", "libvirt.pool-interval",
		"alertmanager.url", "snmp.trap-address", "host", "cloud", "scrape.timeout", "log.level", "log.format"} {
		// kingpin writes --name=DEFAULT, and --[no-]name for a switch.
		if !strings.Contains(string(out), "--"+f+"=") && !strings.Contains(string(out), "--[no-]"+f+" ") {
			t.Errorf("--help does not explain --%s", f)
		}
	}
}
