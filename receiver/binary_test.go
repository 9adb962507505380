package receiver_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

func (s *stack) post(body string) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/v1/alerts", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the value of one sample line of /metrics, or "" if absent.
func (s *stack) metric(line string) string {
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, line+" "); ok {
			return v
		}
	}
	return ""
}

// TestStormRealNamed posts the same failure 1,000 times concurrently,
// half like the exporter's fast path and half like the rule path, to the
// real binary switching a real named: one incident, one Prepare, one
// UPDATE, and the name points at the recovered endpoint.
func TestStormRealNamed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary and named")
	}
	named := testenv.StartNamed(t, testenv.NamedOptions{Zone: "vcr.test.", Records: map[string]string{"web": "127.0.0.9"}})
	s := newStack(t, stackOpts{named: named, prepareSleep: "1", gracePeriod: "0s"})
	s.endpoint.ready.Store(true)
	mk := func(extra string) string {
		return `{"version":"4","status":"firing","receiver":"vcr","groupKey":"g","alerts":[{"status":"firing",` +
			`"labels":{"alertname":"VCRDomainShutoff","domain":"web01","host":"hv1"` + extra + `},"startsAt":"2026-01-01T00:00:00Z"` +
			`,"generatorURL":"http://prometheus.example:9090/graph","fingerprint":"f"}]}`
	}
	bodies := []string{mk(`,"source":"fast-path"`), mk("")}
	const n = 1000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	var bad sync.Map
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if code, body := s.post(bodies[i%2]); code != 200 {
				bad.Store(i, fmt.Sprintf("%d %s", code, body))
			}
		}()
	}
	wg.Wait()
	bad.Range(func(k, v any) bool { t.Errorf("post %v: %v", k, v); return false })
	incs, err := s.client.Incidents(context.Background())
	if err != nil || len(incs) != 1 {
		t.Fatalf("incidents = %d (%v), want 1", len(incs), err)
	}
	inc := s.waitFor(incs[0].ID, "resolved", func(i api.Incident) bool { return i.State == api.StateResolved })
	if inc.Alerts.Count != n || inc.Alerts.BySource["fast-path"] != n/2 || inc.Alerts.BySource["prometheus.example:9090"] != n/2 {
		t.Errorf("alert summary = %+v", inc.Alerts)
	}
	if got := named.Lookup(t, "web.vcr.test."); len(got) != 1 || got[0] != "127.0.0.1" {
		t.Fatalf("named answers %v for web.vcr.test., want [127.0.0.1]", got)
	}
	if inc.DNS == nil || len(inc.DNS.Before) != 1 || inc.DNS.Before[0] != "127.0.0.9" {
		t.Errorf("DNS change = %+v, want before [127.0.0.9]", inc.DNS)
	}
	if got := s.metric(`vcr_dns_updates_total{result="success",service="web"}`); got != "1" {
		t.Errorf("vcr_dns_updates_total = %q, want 1", got)
	}
	prepares, _ := os.ReadFile(filepath.Join(s.dir, "prepares"))
	if c := strings.Count(string(prepares), "x"); c != 1 {
		t.Errorf("strategy Prepare ran %d times, want 1", c)
	}
	s.proc.Stop(t, 10*time.Second)
	j, err := journal.OpenBolt(filepath.Join(s.dir, "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	alerts, _ := j.Alerts(context.Background(), 0)
	if len(alerts) != n {
		t.Errorf("journal holds %d alerts, want %d", len(alerts), n)
	}
}

// TestReloadAndCheckConfig exercises SIGHUP (an invalid config is refused
// and counted, a valid one applied) and --check-config on the real binary.
func TestReloadAndCheckConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	s := newStack(t, stackOpts{prepareSleep: "0", gracePeriod: "0s"})
	good, _ := os.ReadFile(s.cfgPath)
	bin := testenv.Binary(t, "vcr-receiver")

	check := func(wantCode int, want string) {
		t.Helper()
		out, err := exec.Command(bin, "--config.file", s.cfgPath, "--check-config").CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != wantCode || !strings.Contains(string(out), want) {
			t.Fatalf("--check-config exit %d, output:\n%s\nwant exit %d containing %q", code, out, wantCode, want)
		}
	}
	check(0, "config valid (1 services)")

	// The plugin itself rejects an unknown settings key.
	var m map[string]any
	if err := yaml.Unmarshal(good, &m); err != nil {
		t.Fatal(err)
	}
	m["services"].([]any)[0].(map[string]any)["strategy"].(map[string]any)["settings"].(map[string]any)["bogus"] = 1
	withBogus, _ := yaml.Marshal(m)
	os.WriteFile(s.cfgPath, withBogus, 0o600)
	check(1, "services[0].strategy.settings")

	bad := strings.Replace(string(good), "zone: vcr.test.", "zone: vcr.test", 1)
	os.WriteFile(s.cfgPath, []byte(bad), 0o600)
	check(1, "services[0].dns.zone: must end with a dot")

	// A TSIG secret that is not base64 fails the check, not the first switch.
	os.WriteFile(s.cfgPath, good, 0o600)
	secret := filepath.Join(s.dir, "tsig.secret")
	goodSecret, _ := os.ReadFile(secret)
	os.WriteFile(secret, []byte("this is !!! not base64\n"), 0o600)
	check(1, "dns_servers[0].secret_file: TSIG secret file "+secret+" is not valid base64")
	os.WriteFile(secret, goodSecret, 0o600)
	os.WriteFile(s.cfgPath, []byte(bad), 0o600)

	s.proc.Signal(syscall.SIGHUP)
	waitMetric(t, s, `vcr_config_reload_total{result="failure"}`, "1")
	if got := s.metric("vcr_config_reload_success"); got != "0" {
		t.Fatalf("vcr_config_reload_success = %q after a bad reload", got)
	}
	// The old config still works.
	if code, body := s.post(`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"X"}}]}`); code != 200 {
		t.Fatalf("after a bad reload: %d %s", code, body)
	}

	os.WriteFile(s.cfgPath, []byte(strings.Replace(string(good), "ttl: 1", "ttl: 7", 1)), 0o600)
	s.proc.Signal(syscall.SIGHUP)
	waitMetric(t, s, `vcr_config_reload_total{result="success"}`, "1")
	if got := s.metric("vcr_config_reload_success"); got != "1" {
		t.Fatalf("vcr_config_reload_success = %q after a good reload", got)
	}
	s.endpoint.ready.Store(true)
	inc, err := s.client.Failover(context.Background(), "web", false)
	if err != nil {
		t.Fatal(err)
	}
	s.waitFor(inc.ID, "resolved", func(i api.Incident) bool { return i.State == api.StateResolved })

	// SIGTERM: a clean exit.
	s.proc.Signal(syscall.SIGTERM)
	if !s.proc.Wait(15 * time.Second) {
		t.Fatal("receiver did not exit within 15 s of SIGTERM")
	}
	if !s.proc.LogContains("shutting down") {
		t.Error("no shutdown log line")
	}
}

func waitMetric(t *testing.T, s *stack, line, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.metric(line) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s never became %s (is %q)", line, want, s.metric(line))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHangingPluginFailsTheIncident runs a strategy whose Prepare never
// returns: each attempt ends at plugins.timeout, the incident fails with the
// cause after the retries, nothing is switched, and the receiver stays up.
func TestHangingPluginFailsTheIncident(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	s := newStack(t, stackOpts{prepareSleep: "600", gracePeriod: "0s", pluginTimeout: "1s"})
	id := s.postShutoff()
	inc := s.waitFor(id, "failed", func(i api.Incident) bool { return i.State == api.StateFailed })
	ph := inc.Phase(api.PhasePrepare)
	if ph == nil || ph.Attempts != 3 || !strings.Contains(inc.Error, "prepare failed: strategy example") {
		t.Fatalf("prepare = %+v, error %q", ph, inc.Error)
	}
	if s.dns.count() != 0 {
		t.Fatal("DNS switched after a hung prepare")
	}
	// Each timed-out attempt cost the plugin its process.
	if got := s.metric(`vcr_plugin_restarts_total{reason="timeout",strategy="example"}`); got != "3" {
		t.Errorf("vcr_plugin_restarts_total = %q, want 3", got)
	}
	if got := s.metric(`vcr_incidents_held{service="web",state="failed"}`); got != "1" {
		t.Errorf("vcr_incidents_held for the failed incident = %q, want 1", got)
	}
	if resp, err := http.Get(s.url + "/-/healthy"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("receiver unhealthy after a hung plugin: %v", err)
	}
}

// TestRefusesToListenOpenly: without auth the receiver does not start on an
// address reachable beyond loopback unless told explicitly; on loopback it
// starts.
func TestRefusesToListenOpenly(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	dir := t.TempDir()
	secret := filepath.Join(dir, "tsig.secret")
	os.WriteFile(secret, []byte("c2VjcmV0\n"), 0o600)
	cfg := filepath.Join(dir, "receiver.yml")
	os.WriteFile(cfg, []byte(`journal: {path: `+filepath.Join(dir, "journal.db")+`}
plugins: {dir: `+dir+`}
dns_servers: [{name: main, address: "127.0.0.1:1", key_name: k., secret_file: `+secret+`, probe_interval: 0s}]
services:
  - {name: web, primary: {domain: web01, address: 127.0.0.10, port: 80}, strategy: {name: warm}, dns: {name: web.vcr.test., zone: vcr.test.}}
`), 0o600)
	bin := testenv.Binary(t, "vcr-receiver")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Every listen address counts: one on loopback does not cover another
	// reachable from other hosts.
	out, err := exec.CommandContext(ctx, bin, "--config.file", cfg, "--web.listen-address", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
		"--web.listen-address", fmt.Sprintf("0.0.0.0:%d", testenv.FreePort(t))).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "--web.allow-unauthenticated") {
		t.Fatalf("open listener without auth: %v\n%s\nwant exit 1 naming --web.allow-unauthenticated", err, out)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	second := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	testenv.StartDaemon(t, testenv.DaemonSpec{
		Name: "vcr-receiver", Path: bin, Args: []string{"--config.file", cfg, "--web.listen-address", addr, "-web.listen-address=" + second}, Dir: dir,
		Log:   filepath.Join(dir, "vcr-receiver.log"),
		Ready: func() error { return testenv.HTTPOK("http://" + addr + "/-/ready") },
	})
	if err := testenv.HTTPOK("http://" + second + "/-/ready"); err != nil {
		t.Errorf("second --web.listen-address: %v", err)
	}
}
