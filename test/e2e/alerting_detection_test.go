package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/rules"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// healthFor are the `for:` values of the e2e copy of rules/vcr-exporter-health.rules.yml, scaled
// to the 1 s scrape and evaluation interval like alertingFor. VCRLibvirtStuck keeps its 30 s
// threshold (a call pending that long), so its test waits about half a minute.
var healthFor = map[string]time.Duration{
	"VCRLibvirtDown":  2 * time.Second,
	"VCRLibvirtStuck": time.Second,
}

// detectionRig is one vcr-exporter (host d1, cloud e2e-d, fast path on) on the test driver, with
// the shipped rules in a real Prometheus (scrape and evaluation every second) and the shipped
// Alertmanager routes delivering to a webhook listener: the detection chain of TestAlerting,
// small enough for one question each.
type detectionRig struct {
	td   *testenv.TestDriver
	am   *testenv.Alertmanager
	hook *alertingWebhook
	prom *testenv.Prometheus
	exp  *alertingExporter
}

// startDetectionRig starts the rig; libvirtSocket is what the exporter dials (the machine's
// libvirtd, or a proxy in front of it).
func startDetectionRig(t *testing.T, libvirtSocket string) *detectionRig {
	t.Helper()
	lv := testenv.Libvirt(t)
	r := &detectionRig{td: lv.TestDriver(t)}
	token, tokenFile := newAlertingToken(t)
	r.hook = newAlertingWebhook(t, token)
	r.am = testenv.StartAlertmanager(t, testenv.AlertmanagerOptions{
		ConfigYAML: alertingAlertmanagerConfig(t, []string{r.hook.URL()}, tokenFile)})
	r.exp = &alertingExporter{host: "d1", cloud: "e2e-d", addr: "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))}
	r.exp.proc = testenv.StartDaemon(t, testenv.DaemonSpec{
		Name: "vcr-exporter-d1", Path: testenv.Binary(t, "vcr-exporter"),
		Args: []string{"--web.listen-address=" + r.exp.addr, "--libvirt.uri=" + r.td.URI, "--libvirt.socket=" + libvirtSocket,
			"--host=d1", "--cloud=e2e-d", "--alertmanager.url=" + r.am.URL},
		Ready: func() error { return testenv.HTTPOK("http://" + r.exp.addr + "/-/ready") },
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vcr-exporter log tail:\n%s\nwebhook:\n%s", r.exp.proc.Tail(30), r.hook.dump())
		}
	})
	r.prom = testenv.StartPrometheus(t, testenv.PrometheusOptions{
		ConfigYAML: alertingPrometheusConfig(t, hostPort(r.am.URL), "", []alertingTarget{{r.exp.addr, "d1", "e2e-d"}}),
		RuleFiles:  []string{alertingRuleFile(t), healthRuleFile(t)},
	})
	waitQuery(t, r.prom, 20*time.Second, `up{job="vcr-exporter", host="d1"} == 1`, 1)
	return r
}

// healthRuleFile writes the e2e copy of rules/vcr-exporter-health.rules.yml (healthFor applied).
func healthRuleFile(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "rules", "vcr-exporter-health.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := rules.WithFor(src, healthFor)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "vcr-exporter-health.rules.yml")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// running defines a test-driver domain and waits until Prometheus has seen it run.
func (r *detectionRig) running(t *testing.T) (name string, dom libvirt.Domain) {
	t.Helper()
	_, name = r.td.DefineNamed(t, "")
	waitQuery(t, r.prom, 10*time.Second, `vcr_domain_state{domain="`+name+`", host="d1"} == 1`, 1)
	dom, err := r.td.Conn().DomainLookupByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return name, dom
}

// Planned stops fail nothing over, on either path: a managed save and the revert to a snapshot
// taken while the domain was shut off leave it shut off with reasons saved and from_snapshot.
// A domain destroyed at the same time is the control: both paths raise it, so the pipeline was
// listening, and the planned ones had every chance to fire too.
func TestAlertingPlannedStopsFailNothingOver(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: needs root, libvirtd, prometheus and alertmanager")
	}
	r := startDetectionRig(t, testenv.LibvirtSocket)
	conn := r.td.Conn()

	saved, savedDom := r.running(t)
	control, _ := r.running(t)
	// reverted gets a snapshot taken before its first start, while it is shut off: reverting to
	// it later stops it. Defined, snapshotted and started at once, so that no scrape sees it off.
	reverted := testenv.UniqueName(t, "vcr-")
	revertedDom, err := conn.DomainDefineXML("<domain type='test'><name>" + reverted +
		"</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.DomainSnapshotCreateXML(revertedDom, "<domainsnapshot><name>off</name></domainsnapshot>", 0); err != nil {
		t.Fatalf("snapshot of %s: %v", reverted, err)
	}
	if err := conn.DomainCreate(revertedDom); err != nil {
		t.Fatal(err)
	}
	waitQuery(t, r.prom, 10*time.Second, `vcr_domain_state{domain="`+reverted+`"} == 1`, 1)
	t.Cleanup(func() {
		_ = conn.DomainDestroy(revertedDom)
		_ = conn.DomainUndefineFlags(savedDom, libvirt.DomainUndefineManagedSave|libvirt.DomainUndefineSnapshotsMetadata)
		_ = conn.DomainUndefineFlags(revertedDom, libvirt.DomainUndefineManagedSave|libvirt.DomainUndefineSnapshotsMetadata)
	})

	if err := conn.DomainManagedSave(savedDom, 0); err != nil {
		t.Fatalf("managedsave %s: %v", saved, err)
	}
	snap, err := conn.DomainSnapshotLookupByName(revertedDom, "off", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.DomainRevertToSnapshot(snap, 0); err != nil {
		t.Fatalf("revert %s: %v", reverted, err)
	}
	r.td.Destroy(t, control)

	// libvirt says why each one stopped, and the exporter passes it on.
	waitQuery(t, r.prom, 10*time.Second, `vcr_domain_state{domain="`+saved+`"} == 5 and on (domain) vcr_domain_state_reason == 5`, 1)
	waitQuery(t, r.prom, 10*time.Second, `vcr_domain_state{domain="`+reverted+`"} == 5 and on (domain) vcr_domain_state_reason == 7`, 1)
	// The control: the fast path notifies, and the rule path fires too (Alertmanager merges the
	// two, so the rule path's copy is seen in Prometheus, not as a second notification).
	r.hook.wait(t, 10*time.Second, map[string]string{"alertname": "VCRDomainShutoff", "domain": control}, fromFastPath)
	waitQuery(t, r.prom, 30*time.Second, `ALERTS{alertname="VCRDomainShutoff", alertstate="firing", domain="`+control+`"}`, 1)
	// The rule path's wait is alertingFor's 2 s: give the planned stops three times that again.
	time.Sleep(3 * alertingFor["VCRDomainShutoff"])
	for _, name := range []string{saved, reverted} {
		if got := r.hook.all(map[string]string{"domain": name}); len(got) > 0 {
			t.Errorf("planned stop of %s reached the receiver: %s", name, labelString(got[0].alert.Labels))
		}
		if s := r.prom.Query(t, `ALERTS{domain="`+name+`"}`); len(s) > 0 {
			t.Errorf("the rule path holds an alert for the planned stop of %s: %v", name, s[0].Metric)
		}
	}
	for _, a := range r.am.Alerts(t) {
		if d := a.Labels["domain"]; d == saved || d == reverted {
			t.Errorf("Alertmanager holds %v for a planned stop", a.Labels)
		}
	}
}

// A hung libvirtd is not a dead host. libvirtd is shared with every test process on the machine,
// so instead of stopping it the exporter reaches it through a proxy that can hold every byte
// (freezingProxy): to the exporter that is exactly a libvirtd that accepted its call and never
// answers. Prometheus keeps scraping the exporter within its 900 ms scrape timeout (`up` stays
// 1), VCRLibvirtStuck fires once the call has waited 30 s (for the operators), VCRHostHeartbeatLost
// never does, and all is well again when libvirtd answers.
func TestAlertingHungLibvirtdIsNotALostHost(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: needs root, libvirtd, prometheus and alertmanager")
	}
	proxy := newFreezingProxy(t, testenv.LibvirtSocket)
	r := startDetectionRig(t, proxy.Path())
	waitQuery(t, r.prom, 10*time.Second, `vcr_libvirt_up{host="d1"} == 1`, 1)

	t0 := time.Now()
	proxy.Freeze()
	// A self-watch alert goes to the operators (audience="operator"), not to the receiver's webhook.
	stuck := waitAMAlert(t, r.am, 60*time.Second, map[string]string{"alertname": "VCRLibvirtStuck", "host": "d1"}, nil)
	t.Logf("libvirtd frozen -> VCRLibvirtStuck in Alertmanager after %s (threshold 30 s, for: %s)", time.Since(t0).Round(time.Millisecond), healthFor["VCRLibvirtStuck"])
	if stuck.Labels["cloud"] != "e2e-d" || stuck.Labels["severity"] != "critical" || stuck.Labels["audience"] != "operator" {
		t.Errorf("VCRLibvirtStuck labels %v", stuck.Labels)
	}
	if got := r.hook.all(map[string]string{"alertname": "VCRLibvirtStuck"}); len(got) > 0 {
		t.Errorf("VCRLibvirtStuck reached the receiver's webhook: %s", labelString(got[0].alert.Labels))
	}
	// Every scrape of the hang answered in time.
	if s := r.prom.Query(t, `min_over_time(up{job="vcr-exporter", host="d1"}[1m]) == 0`); len(s) > 0 {
		t.Errorf("a scrape failed while libvirtd hung: %v", s)
	}
	if s := r.prom.Query(t, `max_over_time(scrape_duration_seconds{job="vcr-exporter", host="d1"}[1m]) >= 0.9`); len(s) > 0 {
		t.Errorf("a scrape took as long as Prometheus' scrape timeout: %v", s)
	}
	waitQuery(t, r.prom, 5*time.Second, `vcr_libvirt_up{host="d1"} == 0 and on (host) vcr_scrape_collector_success{collector="libvirt", host="d1"} == 0`, 1)
	for _, name := range []string{"VCRHostHeartbeatLost", "VCRCloudDown", "VCRLibvirtDown"} {
		if got := r.hook.all(map[string]string{"alertname": name}); len(got) > 0 {
			t.Errorf("%s reached the receiver while only libvirtd hung: %s", name, labelString(got[0].alert.Labels))
		}
	}

	proxy.Thaw()
	waitQuery(t, r.prom, 20*time.Second, `vcr_libvirt_up{host="d1"} == 1 and on (host) vcr_libvirt_call_in_flight_seconds == 0`, 1)
	deadline := time.Now().Add(20 * time.Second)
	for len(r.prom.Query(t, `ALERTS{alertname="VCRLibvirtStuck"}`)) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("VCRLibvirtStuck still active 20 s after libvirtd answered again")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
