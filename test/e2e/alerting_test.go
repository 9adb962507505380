// Package e2e holds end-to-end tests: real VCRcovery binaries against real Prometheus,
// Alertmanager and libvirt, started through test/testenv.
package e2e

import (
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/vcrcovery/vcrcovery/rules"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// alertingExporter is one running vcr-exporter standing in for one hypervisor host.
type alertingExporter struct {
	host, cloud string
	addr        string // 127.0.0.1:port it listens on
	proc        *testenv.Proc
}

func startAlertingExporter(t testing.TB, bin, libvirtURI, host, cloud, alertmanagerURL string) *alertingExporter {
	t.Helper()
	e := &alertingExporter{host: host, cloud: cloud, addr: "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))}
	args := []string{
		"--web.listen-address=" + e.addr,
		"--libvirt.uri=" + libvirtURI,
		"--libvirt.socket=" + testenv.LibvirtSocket,
		"--host=" + host,
		"--cloud=" + cloud,
	}
	if alertmanagerURL != "" {
		args = append(args, "--alertmanager.url="+alertmanagerURL)
	}
	e.proc = testenv.StartDaemon(t, testenv.DaemonSpec{
		Name: "vcr-exporter-" + host, Path: bin, Args: args,
		Ready: func() error { return testenv.HTTPOK("http://" + e.addr + "/metrics") },
	})
	return e
}

// waitAMAlert polls Alertmanager until an alert matching match exists (and pred holds).
func waitAMAlert(t testing.TB, am *testenv.Alertmanager, timeout time.Duration, match map[string]string, pred func(testenv.AlertSummary) bool) testenv.AlertSummary {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var seen []testenv.AlertSummary
		for _, a := range am.Alerts(t) {
			if labelsMatch(template.KV(a.Labels), match) {
				if pred == nil || pred(a) {
					return a
				}
				seen = append(seen, a)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager: no alert %v in the expected state within %s; matching alerts: %+v", match, timeout, seen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func inhibited(a testenv.AlertSummary) bool {
	return a.Status.State == "suppressed" && len(a.Status.InhibitedBy) > 0
}

// waitQuery polls Prometheus until q returns at least n samples.
func waitQuery(t testing.TB, p *testenv.Prometheus, timeout time.Duration, q string, n int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if len(p.Query(t, q)) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus: %s has fewer than %d samples after %s: %+v", q, n, timeout, p.Query(t, q))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// measureDetection destroys samples fresh test-driver domains one after another and returns, for
// each, the time until the webhook got host a2's fast-path VCRDomainShutoff and host a1's
// rule-path one. It checks the labels the receiver maps services by, and with checkMerge that
// Alertmanager merged a2's fast-path and rule-path copies of the first failure into one alert.
func measureDetection(t testing.TB, td *testenv.TestDriver, prom *testenv.Prometheus, am *testenv.Alertmanager,
	hook *alertingWebhook, samples int, checkMerge bool) (fast, rule []time.Duration) {
	t.Helper()
	for i := 0; i < samples; i++ {
		_, name := td.DefineNamed(t, "")
		// Let the exporters and Prometheus see it running first, as in production.
		waitQuery(t, prom, 10*time.Second, `vcr_domain_state{domain="`+name+`", host=~"a1|a2"} == 1`, 2)
		t0 := time.Now()
		td.Destroy(t, name)
		f := hook.wait(t, 10*time.Second, map[string]string{"alertname": "VCRDomainShutoff", "domain": name, "host": "a2"}, fromFastPath)
		r := hook.wait(t, 30*time.Second, map[string]string{"alertname": "VCRDomainShutoff", "domain": name, "host": "a1"}, fromRulePath)
		fast, rule = append(fast, f.at.Sub(t0)), append(rule, r.at.Sub(t0))
		if r.alert.Labels["cloud"] != "e2e-a" || r.alert.Labels["uuid"] == "" || r.alert.Labels["severity"] != "critical" {
			t.Errorf("rule-path alert lacks the service-mapping labels: %s", labelString(r.alert.Labels))
		}
		if f.alert.Labels["cloud"] != "e2e-a" {
			t.Errorf("fast-path alert lacks the cloud label: %s", labelString(f.alert.Labels))
		}
		if checkMerge && i == 0 {
			// Both paths fire for a2: Prometheus through the proxy, the exporter directly.
			// Same label set, so Alertmanager holds one alert and notifies once.
			waitQuery(t, prom, 10*time.Second, `ALERTS{alertname="VCRDomainShutoff", alertstate="firing", domain="`+name+`", host="a2"}`, 1)
			var n int
			for _, a := range am.Alerts(t) {
				if labelsMatch(template.KV(a.Labels), map[string]string{"alertname": "VCRDomainShutoff", "domain": name, "host": "a2"}) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("Alertmanager holds %d VCRDomainShutoff alerts for %s on a2, want the fast and the rule path merged into 1", n, name)
			}
			if got := hook.all(map[string]string{"alertname": "VCRDomainShutoff", "domain": name, "host": "a2"}); len(got) != 1 {
				t.Errorf("webhook got %d notifications for %s on a2, want 1", len(got), name)
			}
		}
	}
	return fast, rule
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestAlerting runs the detection chain end to end: test-driver domains in the machine's libvirtd,
// four real vcr-exporters on the test driver (hosts a1, a2 in cloud e2e-a; b1, b2 in cloud e2e-b)
// and one on qemu:///system with a real guest (q1, cloud e2e-q), a real Prometheus
// with the shipped rules and scrape job (1 s intervals, shortened `for:`, see alertingFor) and a
// real Alertmanager with the shipped routes and inhibit rules, delivering to a webhook listener
// in place of vcr-receiver. a2 and b1 have the fast path on and are scraped through a proxy that
// can be cut; a1 and b2 have it off.
func TestAlerting(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: needs root, libvirtd, prometheus and alertmanager")
	}
	begin := time.Now()
	lv := testenv.Libvirt(t)
	td := lv.TestDriver(t)
	t.Logf("libvirtd available after %s (shared with other test processes)", time.Since(begin).Round(time.Millisecond))
	bin := testenv.Binary(t, "vcr-exporter")

	token, tokenFile := newAlertingToken(t)
	hook := newAlertingWebhook(t, token)
	receiver := startAlertingReceiver(t, tokenFile)
	am := testenv.StartAlertmanager(t, testenv.AlertmanagerOptions{
		ConfigYAML: alertingAlertmanagerConfig(t, []string{hook.URL(), "http://" + receiver + "/api/v1/alerts"}, tokenFile)})

	a1 := startAlertingExporter(t, bin, td.URI, "a1", "e2e-a", "")
	a2 := startAlertingExporter(t, bin, td.URI, "a2", "e2e-a", am.URL)
	b1 := startAlertingExporter(t, bin, td.URI, "b1", "e2e-b", am.URL)
	b2 := startAlertingExporter(t, bin, td.URI, "b2", "e2e-b", "")
	// The test driver reports only the state group of domstats (no cpu.time, vcpu or balloon
	// stats), so a fifth exporter watches qemu:///system, where a real QEMU (TCG) guest named like
	// a standby VM gives the CPU recording rules, the role="standby" relabelling and the
	// dashboards' CPU panels real data.
	q1 := startAlertingExporter(t, bin, "qemu:///system", "q1", "e2e-q", "")
	pa2, pb1 := newAlertingProxy(t, a2.addr), newAlertingProxy(t, b1.addr)
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{
		ConfigYAML: alertingPrometheusConfig(t, hostPort(am.URL), receiver, []alertingTarget{
			{a1.addr, "a1", "e2e-a"}, {pa2.Addr(), "a2", "e2e-a"},
			{pb1.Addr(), "b1", "e2e-b"}, {b2.addr, "b2", "e2e-b"}, {q1.addr, "q1", "e2e-q"},
		}),
		RuleFiles: []string{alertingRuleFile(t)},
	})
	waitQuery(t, prom, 20*time.Second, `up{job="vcr-exporter"} == 1`, 5)
	waitQuery(t, prom, 20*time.Second, `up{job="vcr-receiver"} == 1`, 1)
	// Boot it before the latency measurements, so that its boot load does not skew them.
	standby := lv.StartVM(t, testenv.VMOptions{Name: testenv.UniqueName(t, "vcr-standby-")})
	waitQuery(t, prom, 20*time.Second, `vcr_domain_state{domain="`+standby.Name+`", role="standby"} == 1`, 1)
	t.Logf("setup done after %s", time.Since(begin).Round(time.Millisecond))
	t.Cleanup(func() { t.Logf("test body took %s; cleanups follow", time.Since(begin).Round(time.Millisecond)) })

	t.Run("DestroyedDomainReachesWebhookByBothPaths", func(t *testing.T) {
		const samples = 5
		fast, rule := measureDetection(t, td, prom, am, hook, samples, true)
		t.Logf("destroy -> webhook, %d samples: fast path median %s (all %v); rule path median %s (all %v; scrape/eval 1s, for: %s)",
			samples, fmtDur(median(fast)), fast, fmtDur(median(rule)), rule, alertingFor["VCRDomainShutoff"])
	})

	// While every exporter is still scraped: a2 and b1, the ones with the fast path, hold firing
	// fast-path alerts now, and the subtests below cut them off from Prometheus.
	t.Run("DashboardQueriesReturnData", func(t *testing.T) {
		alertingDashboardQueries(t, prom)
	})

	t.Run("HostHeartbeatLostInhibitsItsDomains", func(t *testing.T) {
		t0 := time.Now()
		pa2.Cut()
		hb := hook.wait(t, 20*time.Second, map[string]string{"alertname": "VCRHostHeartbeatLost", "host": "a2"}, nil)
		t.Logf("a2 unreachable -> VCRHostHeartbeatLost at webhook: %s (for: %s)", fmtDur(hb.at.Sub(t0)), alertingFor["VCRHostHeartbeatLost"])
		if hb.alert.Labels["cloud"] != "e2e-a" {
			t.Errorf("heartbeat alert labels %s, want cloud=e2e-a", labelString(hb.alert.Labels))
		}

		// a2 still runs and pushes its fast-path alert; it must be held back, while a1's
		// alert for the same domain (another host) goes through.
		_, name := td.DefineNamed(t, "")
		waitQuery(t, prom, 10*time.Second, `vcr_domain_state{domain="`+name+`", host="a1"} == 1`, 1)
		td.Destroy(t, name)
		hook.wait(t, 30*time.Second, map[string]string{"alertname": "VCRDomainShutoff", "domain": name, "host": "a1"}, nil)
		a := waitAMAlert(t, am, 10*time.Second, map[string]string{"alertname": "VCRDomainShutoff", "domain": name, "host": "a2"}, inhibited)
		if got := hook.all(map[string]string{"domain": name, "host": "a2"}); len(got) > 0 {
			t.Errorf("inhibited alert reached the webhook: %s", labelString(got[0].alert.Labels))
		}
		t.Logf("fast-path VCRDomainShutoff of a2 is inhibited by %v", a.Status.InhibitedBy)
		for _, al := range am.Alerts(t) {
			if al.Labels["alertname"] == "VCRCloudDown" && al.Labels["cloud"] == "e2e-a" {
				t.Errorf("VCRCloudDown for e2e-a while a1 still answers: %v", al.Labels)
			}
		}
	})

	t.Run("CloudDownInhibitsHostsAndDomains", func(t *testing.T) {
		t0 := time.Now()
		pb1.Cut()
		b2.proc.Kill()
		cd := hook.wait(t, 20*time.Second, map[string]string{"alertname": "VCRCloudDown", "cloud": "e2e-b"}, nil)
		t.Logf("all of e2e-b unreachable -> VCRCloudDown at webhook: %s (for: %s)", fmtDur(cd.at.Sub(t0)), alertingFor["VCRCloudDown"])

		_, name := td.DefineNamed(t, "")
		waitQuery(t, prom, 10*time.Second, `vcr_domain_state{domain="`+name+`", host="a1"} == 1`, 1)
		td.Destroy(t, name)
		hook.wait(t, 30*time.Second, map[string]string{"alertname": "VCRDomainShutoff", "domain": name, "host": "a1"}, nil)
		var held []testenv.AlertSummary
		held = append(held,
			waitAMAlert(t, am, 10*time.Second, map[string]string{"alertname": "VCRDomainShutoff", "domain": name, "host": "b1"}, inhibited),
			waitAMAlert(t, am, 10*time.Second, map[string]string{"alertname": "VCRHostHeartbeatLost", "host": "b1"}, inhibited),
			waitAMAlert(t, am, 10*time.Second, map[string]string{"alertname": "VCRHostHeartbeatLost", "host": "b2"}, inhibited))
		// Give a wrongly released notification time to arrive (group_wait is 0s).
		time.Sleep(time.Second)
		for _, m := range []map[string]string{
			{"cloud": "e2e-b", "domain": name},
			{"cloud": "e2e-b", "alertname": "VCRHostHeartbeatLost"},
		} {
			if got := hook.all(m); len(got) > 0 {
				t.Errorf("inhibited alert reached the webhook: %s", labelString(got[0].alert.Labels))
			}
		}
		for _, a := range held {
			t.Logf("%s{host=%s} inhibited by %v", a.Labels["alertname"], a.Labels["host"], a.Status.InhibitedBy)
		}
	})

	t.Run("ReceiverAcceptsAlertmanagerToken", func(t *testing.T) {
		// Alertmanager authenticated with credentials_file and the real receiver journaled.
		waitQuery(t, prom, 10*time.Second, `vcr_webhook_requests_total{code="200"} > 0`, 1)
		waitQuery(t, prom, 10*time.Second, `vcr_alerts_received_total > 0`, 1)
		if s := prom.Query(t, `vcr_webhook_requests_total{code=~"4..|5.."} > 0`); len(s) > 0 {
			t.Errorf("receiver refused Alertmanager's deliveries: %+v", s)
		}
	})

	t.Run("LabelConventions", func(t *testing.T) {
		// honor_labels: true keeps the exporter's host/cloud, equal to the target's: no exported_* copy appears.
		for _, q := range []string{`{job="vcr-exporter", exported_host!=""}`, `{job="vcr-exporter", exported_cloud!=""}`} {
			if s := prom.Query(t, q); len(s) > 0 {
				t.Errorf("%s: %d series keep the exporter's label copy, e.g. %v", q, len(s), s[0].Metric)
			}
		}
		// role="standby" goes to the domain named like a standby VM, and to no other.
		if s := prom.Query(t, `vcr_domain_info{host="q1", cloud="e2e-q", role="standby", domain="`+standby.Name+`"}`); len(s) != 1 {
			t.Errorf("standby guest %s not labelled role=standby on q1: %+v", standby.Name, s)
		}
		if s := prom.Query(t, `vcr_domain_info{host="a1", role!=""}`); len(s) > 0 {
			t.Errorf("test-driver domains got a role label: %+v", s)
		}
	})
}

// alertingNoData lists the dashboard queries that cannot have data in this test, with the reason.
// Every other query must return at least one sample.
var alertingNoData = map[string]string{
	"vcr-recovery / Incidents over time / B":                           noRecovery,
	"vcr-recovery / Outcomes / A":                                      noRecovery,
	"vcr-recovery / Recoveries by service and strategy / A":            noRecovery,
	"vcr-recovery / Recovery time per phase (p50, p95, last hour) / A": noRecovery,
	"vcr-recovery / Recovery time per phase (p50, p95, last hour) / B": noRecovery,
	"vcr-recovery / Mean time per phase / A":                           noRecovery,
	"vcr-recovery / Standby VM load / B":                               "the test guest has <memballoon model='none'>, so libvirt reports no balloon.usable for it",
	"vcr-recovery / Standby containers: CPU / A":                       noLXD,
	"vcr-recovery / Standby containers: memory / A":                    noLXD,
	"vcr-recovery / Standby containers: processes / A":                 noLXD,
	"vcr-cost / VCRcovery warm saves, per year / A":                    noCost,
	"vcr-cost / VCRcovery cold vs. backups only, per year / A":         noCost,
	"vcr-cost / Standby VMs paid for / A":                              noCost,
	"vcr-cost / Yearly standby cost by design / A":                     noCost,
	"vcr-cost / Standby cost per hour / A":                             noCost,
	"vcr-cost / Recoveries completed, by strategy and outcome / A":     noRecovery,
	"vcr-fleet / SNMP traps received / A":                              "no exporter here has --snmp.trap-address (the exporter's SNMP tests send traps)",
	"vcr-fleet / Disk latency, top 10 / A":                             noDisk,
	"vcr-fleet / Disk latency, top 10 / B":                             noDisk,
	"vcr-fleet / Guest paging, top 10 / A":                             noBalloon,
	"vcr-fleet / Guest paging, top 10 / B":                             noBalloon,
	"vcr-fleet / Migrations and other jobs / A":                        noJob,
	"vcr-fleet / Migrations and other jobs / B":                        noJob,
	"vcr-fleet / Migrations and other jobs / C":                        noJob,
	"vcr-fleet / OpenStack instances by project and flavor / A":        "no domain here carries nova metadata (exporter/collector's QEMU golden test does)",
}

const (
	noRecovery = "no recovery runs here: the receiver's only service matches none of the test's alerts (recoveries are the receiver's e2e)"
	noLXD      = "no LXD daemon is scraped here (lxd-standby job dropped): it exports the lxd_* series"
	noCost     = "no daemon started here exports the cost model (cost.Collector, vcr_standby_*)"
	noDisk     = "the test driver reports no block stats and the q1 guest has no disk (exporter/collector's QEMU golden test has one)"
	noBalloon  = "the q1 guest has <memballoon model='none'> and no balloon driver, so libvirt reports no guest paging"
	noJob      = "no domain here runs a job (migration, save); exporter/collector's QEMU golden test captures a save"
)

func alertingDashboardQueries(t *testing.T, prom *testenv.Prometheus) {
	paths, err := filepath.Glob(filepath.Join(testenv.ModuleRoot(t), "deploy", "grafana", "dashboards", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	checked, excepted := 0, 0
	for _, p := range paths {
		d, err := rules.ReadDashboard(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range append(d.Queries(), d.VariableQueries()...) {
			// The test's Prometheus holds about a minute of data.
			expr, err := rules.ExpandVars(q.Expr, "1m")
			if err != nil {
				t.Fatal(err)
			}
			n := len(prom.Query(t, expr))
			if reason, ok := alertingNoData[q.ID()]; ok {
				// Keep the list honest: an exception whose query now has data must go.
				if n > 0 {
					t.Errorf("%s returned data although listed in alertingNoData (%s): remove the exception", q.ID(), reason)
				}
				excepted++
				continue
			}
			checked++
			if n == 0 {
				t.Errorf("%s: %s returned no data", q.ID(), expr)
			}
		}
	}
	if excepted != len(alertingNoData) {
		t.Errorf("%d of the %d exceptions in alertingNoData name no dashboard query: remove stale ones", len(alertingNoData)-excepted, len(alertingNoData))
	}
	t.Logf("%d dashboard queries checked for data, %d exceptions", checked, excepted)
}
