package system

// Start-up of the daemons: vcr-receiver with its strategy plugins, one
// vcr-exporter per hypervisor host (and the standby's), Alertmanager and,
// on the rule path, Prometheus. What they read is written in config_*.go.

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// startReceiver installs the strategy plugins into a plugin dir, writes the
// config and starts vcr-receiver.
func (s *System) startReceiver(t testenv.TB) {
	t.Helper()
	s.PluginDir = filepath.Join(s.Dir, "plugins")
	if err := os.MkdirAll(s.PluginDir, 0o755); err != nil {
		t.Fatalf("system: %v", err)
	}
	for _, name := range []string{"vcr-strategy-warm", "vcr-strategy-cold", "vcr-strategy-scaleup"} {
		if err := os.Symlink(testenv.Binary(t, name), filepath.Join(s.PluginDir, name)); err != nil {
			t.Fatalf("system: install plugin %s: %v", name, err)
		}
	}
	s.writeReceiverConfig(t)
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	s.ReceiverURL = "http://" + addr
	s.ReceiverArgs = []string{"--config.file", s.ConfigFile, "--web.listen-address", addr, "--log.level", "debug",
		"--capacity.max-age", CapacityMaxAge.String()}
	s.Client = api.New(s.ReceiverURL, s.ReceiverToken)
	s.StartReceiverProcess(t)
}

// CapacityMaxAge is how long the system's receiver reuses a pre-flight
// capacity answer: short, so a test sees a change after waiting this long.
const CapacityMaxAge = time.Second

// StartReceiverProcess (re)starts vcr-receiver with the same config and journal.
func (s *System) StartReceiverProcess(t testenv.TB) {
	t.Helper()
	s.ReceiverProc = testenv.StartDaemon(t, testenv.DaemonSpec{
		Name: "vcr-receiver", Path: testenv.Binary(t, "vcr-receiver"), Args: s.ReceiverArgs,
		Dir: s.Dir, Log: filepath.Join(s.Dir, "vcr-receiver.log"),
		Ready: func() error { return testenv.HTTPOK(s.ReceiverURL + "/-/ready") },
	})
}

// startAlerting starts Alertmanager routed to the receiver, the exporter for
// the primaries' hosts, and Prometheus when the rule path is on.
func (s *System) startAlerting(t testenv.TB) {
	t.Helper()
	// The shipped routing and inhibit rules, pointed at this receiver;
	// group_interval 1s so a group's changes reach it within the tests' waits.
	amCfg := AlertmanagerConfig(t, s.ReceiverURL+"/api/v1/alerts", s.receiverTokenFile(), "1s")
	s.AM = testenv.StartAlertmanager(t, testenv.AlertmanagerOptions{ConfigYAML: amCfg})

	// One exporter per hypervisor host: the test-driver hosts (all views of
	// test:///default, told apart by their host label) and the QEMU host.
	hosts := map[string]string{}
	for _, svc := range s.Services {
		if svc.RealVM {
			hosts["hv-qemu"] = "qemu:///system"
		} else {
			hosts[svc.Host] = s.Driver.URI
		}
	}
	if len(hosts) == 0 {
		hosts[s.Opts.Host] = s.Driver.URI
	}
	var names []string
	for h := range hosts {
		names = append(names, h)
	}
	sort.Strings(names)
	for _, h := range names {
		s.StartExporter(t, h, hosts[h])
	}
	if s.Opts.StandbyExporter {
		s.startStandbyExporter(t)
	}
	if s.Opts.RulePath {
		s.startPrometheus(t)
	}
}

// StartExporter starts one vcr-exporter for a libvirt URI, labelled host.
func (s *System) StartExporter(t testenv.TB, host, uri string) *testenv.Proc {
	t.Helper()
	args := []string{"--libvirt.uri", uri, "--libvirt.socket", s.Libvirt.Socket}
	if s.Opts.FastPath {
		args = append(args, "--alertmanager.url", s.AM.URL)
	}
	return s.startExporter(t, host, args)
}

// startExporter runs vcr-exporter on a free port with the host and cloud
// labels and extra args, and records it as host's exporter.
func (s *System) startExporter(t testenv.TB, host string, extra []string) *testenv.Proc {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	args := append([]string{"--web.listen-address", addr, "--host", host, "--cloud", s.Opts.Cloud}, extra...)
	p := testenv.StartDaemon(t, testenv.DaemonSpec{
		Name: "vcr-exporter-" + host, Path: testenv.Binary(t, "vcr-exporter"), Args: args, Dir: s.Dir,
		Log:   filepath.Join(s.Dir, "vcr-exporter-"+host+".log"),
		Ready: func() error { return testenv.HTTPOK("http://" + addr + "/metrics") },
	})
	s.Exporters[host] = p
	s.ExporterAddrs[host] = addr
	return p
}

// startStandbyExporter runs the exporter the standby VM would run: its LXD
// collector reports the containers' load. The standby VM has no libvirt, so
// the libvirt socket points where nothing listens.
func (s *System) startStandbyExporter(t testenv.TB) {
	t.Helper()
	args := []string{"--libvirt.socket", filepath.Join(s.Dir, "no-libvirt-on-the-standby"),
		"--lxd.url", s.Standby.URL, "--lxd.client-cert", s.Standby.ClientCert,
		"--lxd.client-key", s.Standby.ClientKey, "--lxd.server-cert", s.Standby.ServerCert, "--lxd.role", "standby"}
	if s.Opts.StandbyCPUs > 0 {
		args = append(args, "--lxd.cpus", fmt.Sprint(s.Opts.StandbyCPUs))
	}
	s.startExporter(t, "hv-standby", args)
}

// startPrometheus starts Prometheus scraping every exporter with the
// project's rules (shortened when the options ask) and sending to
// Alertmanager.
func (s *System) startPrometheus(t testenv.TB) {
	t.Helper()
	s.Prom = testenv.StartPrometheus(t, testenv.PrometheusOptions{ConfigYAML: s.prometheusConfig(), RuleFiles: []string{s.rulesFile(t)}})
}
