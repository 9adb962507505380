package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/rules"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// standbyLoadFor is VCRStandbyOverloaded's `for:` in this test (10m in production): long
// enough that the condition must hold over several 1 s evaluations, short enough for the
// package's time budget.
const standbyLoadFor = 5 * time.Second

// standbyLoadRate is the container CPU rate as the production rule writes it, and its window in
// this test. Prometheus' rate() divides the increase by the whole range, so a load that began T
// seconds ago reads as T/60 of itself through [1m]: the production expression needs about a
// minute of full load before it can cross 85%. Scaled to 10s like `for:`, it crosses within
// seconds; everything else in the expression is the shipped one.
const (
	standbyLoadRate      = "rate(vcr_lxd_instance_cpu_seconds_total[1m])"
	standbyLoadRateShort = "rate(vcr_lxd_instance_cpu_seconds_total[10s])"
)

// standbyCPUQuota is the CPU the container may use (a CFS quota through LXD's
// limits.cpu.allowance), and the exporter counts the standby's CPUs as exactly that
// (--lxd.cpus): utilisation is measured against the limit, not against whatever share of
// this shared machine the loops get. A tenth of a CPU is what a busy loop gets even when
// other work loads both cores (a load average of 20 leaves each runnable task a tenth),
// and an idle container uses next to none of it.
const (
	standbyCPUQuota = "10ms/100ms"
	standbyCPUs     = "0.1"
)

// TestStandbyLoad runs VCRStandbyOverloaded from real load, end to end: an LXD daemon standing in
// for the standby VM, a real vcr-exporter reading it with --lxd.socket (no libvirt: the standby
// is no monitored domain here), a real Prometheus with the shipped vcr-exporter job and rules
// (1 s intervals, `for:` shortened to standbyLoadFor, the container rate window to 10s, see
// standbyLoadRate) and a real Alertmanager with the shipped
// routes, delivering to a webhook listener in place of vcr-receiver. The container has a CPU
// quota and the exporter measures against it (standbyCPUQuota), so the result does not depend on
// how busy the machine is.
func TestStandbyLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: needs root, LXD, prometheus and alertmanager")
	}
	begin := time.Now()
	x := testenv.StartLXD(t, testenv.LXDOptions{Name: "standby"})
	x.LaunchService(t, "web", testenv.FreePort(t))
	x.Lxc(t, "config", "set", "web", "limits.cpu.allowance", standbyCPUQuota)

	token, tokenFile := newAlertingToken(t)
	hook := newAlertingWebhook(t, token)
	am := testenv.StartAlertmanager(t, testenv.AlertmanagerOptions{
		ConfigYAML: alertingAlertmanagerConfig(t, []string{hook.URL()}, tokenFile)})

	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	exp := testenv.StartDaemon(t, testenv.DaemonSpec{
		Name: "vcr-exporter-standby", Path: testenv.Binary(t, "vcr-exporter"),
		Args: []string{
			"--web.listen-address=" + addr,
			// No libvirtd serves this socket: the exporter runs for its LXD collector alone.
			"--libvirt.socket=" + filepath.Join(t.TempDir(), "no-libvirt-sock"),
			"--lxd.socket=" + x.Socket,
			// The standby's budget is the container's CPU quota. In production the standby
			// VM's CPUs are its containers' alone, and /1.0/resources counts them. Here the
			// "VM" is the host, shared with every other test: busy loops measured against one
			// of its CPUs got 0.62 to 0.92 of it while `make test` ran (72.6% once, failing
			// the 85% threshold). Against the quota they saturate, whatever else runs.
			"--lxd.cpus=" + standbyCPUs,
			"--host=sb1", "--cloud=e2e-s",
		},
		Ready: func() error { return testenv.HTTPOK("http://" + addr + "/metrics") },
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vcr-exporter log tail:\n%s", exp.Tail(30))
		}
	})

	src, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "rules", "vcr.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	short, err := rules.WithFor(src, map[string]time.Duration{"VCRStandbyOverloaded": standbyLoadFor})
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(short, []byte(standbyLoadRate)); n != 1 {
		t.Fatalf("rules/vcr.rules.yml has %d copies of %s, want the one in role:vcr_lxd_cpu_utilisation:ratio_rate1m; update this test", n, standbyLoadRate)
	}
	short = bytes.Replace(short, []byte(standbyLoadRate), []byte(standbyLoadRateShort), 1)
	ruleFile := filepath.Join(t.TempDir(), "vcr.rules.yml")
	if err := os.WriteFile(ruleFile, short, 0o644); err != nil {
		t.Fatal(err)
	}
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{
		ConfigYAML: alertingPrometheusConfig(t, hostPort(am.URL), "", []alertingTarget{{addr, "sb1", "e2e-s"}}),
		RuleFiles:  []string{ruleFile},
	})

	// Idle: the recorded utilisation exists, with the target's labels, and stays low.
	util := `role:vcr_lxd_cpu_utilisation:ratio_rate1m{role="standby", host="sb1", cloud="e2e-s"}`
	waitQuery(t, prom, 20*time.Second, util, 1)
	waitQuery(t, prom, 10*time.Second, `role:vcr_lxd_memory_utilisation:ratio{role="standby", host="sb1", cloud="e2e-s"}`, 1)
	time.Sleep(2 * time.Second)
	if s := prom.Query(t, util); len(s) != 1 || s[0].Value > 0.3 {
		t.Fatalf("idle standby: %s = %+v, want one sample well below 0.85", util, s)
	}
	if s := prom.Query(t, `ALERTS{alertname="VCRStandbyOverloaded"}`); len(s) > 0 {
		t.Fatalf("VCRStandbyOverloaded pending or firing on an idle standby: %+v", s)
	}
	t.Logf("idle phase done after %s", time.Since(begin).Round(time.Millisecond))

	// Load: four busy loops in web, stopped as soon as the test is done with them. The loops
	// must not hold the exec session's stdio, or lxc exec waits for them.
	t.Cleanup(func() { _, _ = x.LxcErr(t, "stop", "--force", "web") })
	x.Lxc(t, "exec", "web", "--", "sh", "-c", "for i in 1 2 3 4; do (while :; do :; done) </dev/null >/dev/null 2>&1 & done")
	t0 := time.Now()
	// With the whole quota used, this takes about 5 s of the 10 s window.
	deadline := time.Now().Add(30 * time.Second)
	for len(prom.Query(t, util+` > 0.85`)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("standby CPU utilisation never crossed 85%% within 30 s of load: %+v; per container: %+v against a quota of %s CPU (does LXD apply limits.cpu.allowance here? see the container's cpu.cfs_quota_us)",
				prom.Query(t, util), prom.Query(t, standbyLoadRateShort), standbyCPUs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	above := time.Since(t0)
	// The loops are held to the quota: the alert fires because they use the container's whole
	// limit, as the rule intends, not because of how idle the machine is.
	if s := prom.Query(t, standbyLoadRateShort); len(s) != 1 || s[0].Value > 0.2 {
		t.Errorf("container CPU rate %+v, want one series at about the %s CPU quota (limits.cpu.allowance %s not applied?)", s, standbyCPUs, standbyCPUQuota)
	}
	got := hook.wait(t, 30*time.Second, map[string]string{"alertname": "VCRStandbyOverloaded", "role": "standby"}, fromRulePath)
	l := got.alert.Labels
	if l["host"] != "sb1" || l["cloud"] != "e2e-s" || l["severity"] != "warning" || l["domain"] != "" {
		t.Errorf("alert labels %s, want host=sb1 cloud=e2e-s severity=warning role=standby and no domain", labelString(l))
	}
	if got.at.Before(t0) {
		t.Errorf("VCRStandbyOverloaded reached the webhook %s before the load started", t0.Sub(got.at))
	}
	if s := got.alert.Annotations["summary"]; !strings.HasPrefix(s, "Standby VM sb1 is overloaded (") || got.alert.Annotations["runbook_url"] == "" {
		t.Errorf("alert annotations %v: want summary \"Standby VM sb1 is overloaded (...)\" and a runbook_url", got.alert.Annotations)
	}
	if v := prom.Query(t, util); len(v) == 1 {
		t.Logf("standby CPU utilisation under load: %.2f", v[0].Value)
	}
	// The recovery dashboard's container panels fall back to these series without LXD's own
	// /1.0/metrics, as here.
	d, err := rules.ReadDashboard(filepath.Join(testenv.ModuleRoot(t), "deploy", "grafana", "dashboards", "recovery.json"))
	if err != nil {
		t.Fatal(err)
	}
	panels := map[string]bool{"vcr-recovery / Standby containers: CPU / A": false, "vcr-recovery / Standby containers: memory / A": false}
	for _, q := range d.Queries() {
		if _, ok := panels[q.ID()]; !ok {
			continue
		}
		panels[q.ID()] = true
		expr, err := rules.ExpandVars(q.Expr, "10s")
		if err != nil {
			t.Fatal(err)
		}
		if s := prom.Query(t, expr); len(s) != 1 || s[0].Metric["name"] != "web" {
			t.Errorf("%s: %s = %+v, want one series for container web", q.ID(), expr, s)
		}
	}
	for id, seen := range panels {
		if !seen {
			t.Errorf("dashboard has no query %s", id)
		}
	}
	_, _ = x.LxcErr(t, "stop", "--force", "web")
	t.Logf("load -> utilisation above 85%%: %s; load -> VCRStandbyOverloaded at webhook: %s (for: %s, scrape/eval 1s); summary %q",
		above.Round(time.Millisecond), got.at.Sub(t0).Round(time.Millisecond), standbyLoadFor, got.alert.Annotations["summary"])
}
