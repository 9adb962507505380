// Package system starts the whole of VCRcovery on loopback from real parts:
// libvirtd with primaries, named serving the service zone, LXD as the standby
// VM (and a bigger VM), Alertmanager, optionally Prometheus with the project's
// rules, the exporter and the receiver with its strategy plugins. The e2e
// tests, the recovery-time benchmark and `make demo` all build on it, so they
// exercise the same wiring.
package system

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/backupstore"
	"github.com/vcrcovery/vcrcovery/receiver/api"
	promrules "github.com/vcrcovery/vcrcovery/rules"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// Zone is the DNS zone the services live in.
const Zone = "vcr.test."

// Addresses each part of the system owns on loopback.
const (
	StandbyAddress = "127.0.0.2" // the standby VM's containers
	BiggerAddress  = "127.0.0.3" // the bigger VM's containers
)

// The status page's browser login (basic auth); Alertmanager and vcrctl use
// the bearer token.
const (
	OperatorUser     = "operator"
	OperatorPassword = "vcr-demo-password"
)

// StatusPageURL is the receiver's status page with the operator's
// credentials in it, for a browser.
func (s *System) StatusPageURL() string {
	return strings.Replace(s.ReceiverURL, "http://", "http://"+OperatorUser+":"+OperatorPassword+"@", 1) + "/"
}

// ServiceSpec describes one protected service.
type ServiceSpec struct {
	Name     string // DNS label and container name
	Strategy string // "warm" or "cold"
	// RealVM runs the primary as a real QEMU (TCG) domain instead of a
	// test-driver domain with a stand-in listener.
	RealVM bool
	// Unfenceable points the service's libvirt host at a socket that does not
	// exist, so fencing cannot reach it (the split-brain guard's scenario).
	Unfenceable bool
	// FlapMinInterval sets the service's flap policy (0: off).
	FlapMinInterval time.Duration
	// Host is the hypervisor host label of a test-driver primary; each host
	// gets its own exporter. Default: Options.Host.
	Host string
}

// Options selects what Start brings up.
type Options struct {
	Services []ServiceSpec
	// FastPath makes the exporter push failures to Alertmanager directly.
	FastPath bool
	// RulePath starts Prometheus with rules/vcr.rules.yml (1 s scrape and
	// evaluation) sending alerts to Alertmanager.
	RulePath bool
	// RuleFor, when non-zero, replaces every `for:` in the rules, so
	// rule-path tests don't wait minutes (negative: `for: 0s`, fire at the
	// first evaluation). The shipped values are what production uses.
	RuleFor time.Duration
	// RuleForDivisor, when > 1, divides every `for:` instead, keeping the
	// rules' order (VCRCloudDown still fires before VCRHostHeartbeatLost).
	RuleForDivisor int
	// RuleWindow, when set, replaces the rules' 1m rate windows, so a load
	// shows in seconds (the demo's scale-up).
	RuleWindow string
	// StandbyExporter runs a vcr-exporter beside the standby LXD (its LXD
	// collector, host "hv-standby"), so VCRStandbyOverloaded can fire from
	// real container load through the rule path. StandbyCPUs sizes the
	// standby VM as the collector reports it (0: the machine's).
	StandbyExporter bool
	StandbyCPUs     int
	// ScaleUp starts the bigger VM and gives every warm service a scale-up plan.
	ScaleUp bool
	// GracePeriod is the fencing grace when a host cannot be reached.
	GracePeriod time.Duration
	// Cloud and Host label the test-driver primaries' exporter.
	Cloud, Host string
	// Logf receives progress lines; nil logs through t.
	Logf func(format string, args ...any)
}

// Service is a running protected service.
type Service struct {
	ServiceSpec
	DNSName     string // FQDN
	Port        int    // the same on the primary and in the container
	Domain      string // libvirt domain name of the primary
	UUID        string
	PrimaryAddr string // 127.0.0.X the primary serves on

	vm       *testenv.VM
	listener *http.Server
	mu       sync.Mutex
}

// System is a running VCRcovery.
type System struct {
	Opts     Options
	Dir      string
	Libvirt  *testenv.LibvirtEnv
	Driver   *testenv.TestDriver
	Named    *testenv.Named
	Standby  *testenv.LXD
	Bigger   *testenv.LXD
	AM       *testenv.Alertmanager
	Prom     *testenv.Prometheus
	Services map[string]*Service

	ReceiverURL   string
	ReceiverToken string
	ReceiverProc  *testenv.Proc
	ReceiverArgs  []string
	Exporters     map[string]*testenv.Proc // by host label
	ExporterAddrs map[string]string        // host label -> listen address
	PluginDir     string
	BackupDir     string
	ConfigFile    string
	Client        *api.Client

	t testenv.TB
}

func (s *System) logf(format string, args ...any) {
	if s.Opts.Logf != nil {
		s.Opts.Logf(format, args...)
		return
	}
	s.t.Logf(format, args...)
}

// Start brings the whole system up. Everything stops at t's cleanup.
func Start(t testenv.TB, opts Options) *System {
	t.Helper()
	if opts.Cloud == "" {
		opts.Cloud = "lab"
	}
	if opts.Host == "" {
		opts.Host = "hv-test"
	}
	if opts.GracePeriod == 0 {
		opts.GracePeriod = 2 * time.Second
	}
	s := &System{Opts: opts, Dir: t.TempDir(), Services: map[string]*Service{}, Exporters: map[string]*testenv.Proc{}, ExporterAddrs: map[string]string{}, t: t}
	begin := time.Now()

	s.Libvirt = testenv.Libvirt(t)
	s.Driver = s.Libvirt.TestDriver(t)

	// Primaries first: a real VM takes the longest, and named needs their addresses.
	records := map[string]string{}
	for i, spec := range opts.Services {
		svc := &Service{ServiceSpec: spec, Port: 18080 + i, PrimaryAddr: fmt.Sprintf("127.0.0.%d", 10+i)}
		if svc.Host == "" {
			svc.Host = opts.Host
		}
		svc.DNSName = spec.Name + "." + Zone
		if spec.RealVM {
			svc.vm = s.Libvirt.StartVM(t, testenv.VMOptions{
				Name:       testenv.UniqueName(t, "vcr-"+spec.Name+"-"),
				ListenAddr: net.JoinHostPort(svc.PrimaryAddr, fmt.Sprint(svc.Port)),
				Body:       "primary vm " + spec.Name + "\n",
			})
			svc.Domain, svc.UUID = svc.vm.Name, svc.vm.UUID
		} else {
			svc.UUID, svc.Domain = s.Driver.DefineNamed(t, testenv.UniqueName(t, "vcr-"+spec.Name+"-"))
			svc.startListener(t)
		}
		records[spec.Name] = svc.PrimaryAddr
		s.Services[spec.Name] = svc
	}
	s.logf("primaries up (%s)", time.Since(begin).Round(time.Millisecond))

	s.Named = testenv.StartNamed(t, testenv.NamedOptions{Zone: Zone, Records: records, TTL: 1})
	s.Standby = testenv.StartLXD(t, testenv.LXDOptions{Name: "standby", Address: StandbyAddress})
	if opts.ScaleUp {
		s.Bigger = testenv.StartLXD(t, testenv.LXDOptions{Name: "bigger", Address: BiggerAddress})
	}
	s.BackupDir = filepath.Join(s.Dir, "backups")
	var backups *backupstore.Store
	var standby *lxd.Client
	for _, name := range s.names() {
		svc := s.Services[name]
		s.Standby.LaunchService(t, name, svc.Port)
		if svc.Strategy != "cold" {
			continue
		}
		if backups == nil {
			backups, standby = s.openBackups(t)
		}
		s.backupAndRemove(t, backups, standby, svc)
	}
	s.logf("standby containers ready (%s)", time.Since(begin).Round(time.Millisecond))

	s.startReceiver(t)
	s.startAlerting(t)
	s.logf("system up in %s", time.Since(begin).Round(time.Millisecond))
	return s
}

func (s *System) names() []string {
	var n []string
	for name := range s.Services {
		n = append(n, name)
	}
	sort.Strings(n)
	return n
}

// startListener serves the primary's page on its address, standing in for the
// service inside a test-driver domain.
func (svc *Service) startListener(t testenv.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(svc.PrimaryAddr, fmt.Sprint(svc.Port)))
	if err != nil {
		t.Fatalf("system: primary listener for %s: %v", svc.Name, err)
	}
	body := "primary " + svc.Name + "\n"
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, body)
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	svc.mu.Lock()
	svc.listener = srv
	svc.mu.Unlock()
	t.Cleanup(func() { svc.StopListener() })
}

// StopListener stops the stand-in primary service (the VM's service dying with it).
func (svc *Service) StopListener() {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if svc.listener != nil {
		svc.listener.Close()
		svc.listener = nil
	}
}

// openBackups opens the backup store and connects to the standby LXD the
// backups are exported from.
func (s *System) openBackups(t testenv.TB) (*backupstore.Store, *lxd.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := lxd.Connect(ctx, lxd.Config{Socket: s.Standby.Socket})
	if err != nil {
		t.Fatalf("system: connect standby LXD: %v", err)
	}
	store, err := backupstore.Open(s.BackupDir)
	if err != nil {
		t.Fatalf("system: backup store: %v", err)
	}
	return store, c
}

// backupAndRemove takes a backup of the service's freshly launched container
// into the backup store and deletes the container: a cold standby holds only
// the backup.
func (s *System) backupAndRemove(t testenv.TB, store *backupstore.Store, c *lxd.Client, svc *Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := store.Create(ctx, svc.Name, backupstore.FromLXD(c, svc.Name)); err != nil {
		t.Fatalf("system: back up %s: %v", svc.Name, err)
	}
	s.Standby.Lxc(t, "delete", "--force", svc.Name)
}

// receiverConfig renders the receiver's YAML config.
func (s *System) receiverConfig() map[string]any {
	// HTTPS rather than the socket: a scale-up target pulls from the
	// source's HTTPS address.
	remote := func(x *testenv.LXD) map[string]any {
		return map[string]any{"url": x.URL, "client_cert": x.ClientCert, "client_key": x.ClientKey,
			"server_cert": x.ServerCert, "address": x.Address}
	}
	remotes := map[string]any{"standby": remote(s.Standby)}
	if s.Bigger != nil {
		remotes["bigger"] = remote(s.Bigger)
	}
	var services []any
	for _, name := range s.names() {
		svc := s.Services[name]
		socket := s.Libvirt.Socket
		uri := s.Driver.URI
		host := svc.Host
		if svc.RealVM {
			uri, host = "qemu:///system", "hv-qemu"
		}
		if svc.Unfenceable {
			socket = filepath.Join(s.Dir, "unreachable-libvirt-sock")
		}
		settings := map[string]any{"remote": "standby", "instance": name, "proxy_device": "web"}
		service := map[string]any{
			"name": name,
			"primary": map[string]any{
				"domain": svc.Domain, "uuid": svc.UUID,
				"host":    map[string]any{"name": host, "cloud": s.Opts.Cloud, "socket": socket, "uri": uri, "timeout": "2s"},
				"address": svc.PrimaryAddr, "port": svc.Port,
			},
			"strategy": map[string]any{"name": svc.Strategy, "settings": settings},
			"dns":      map[string]any{"name": svc.DNSName, "zone": Zone, "ttl": 1},
			"check":    map[string]any{"http_path": "/", "timeout": "30s"},
			"fencing":  map[string]any{"grace_period": s.Opts.GracePeriod.String()},
		}
		if svc.FlapMinInterval > 0 {
			service["flap"] = map[string]any{"min_interval": svc.FlapMinInterval.String()}
		}
		if s.Bigger != nil && svc.Strategy == "warm" {
			service["scaleup"] = map[string]any{"name": "scaleup", "settings": map[string]any{
				"source": "standby", "target": "bigger", "instance": name, "proxy_device": "web"}}
		}
		services = append(services, service)
	}
	return map[string]any{
		"web": map[string]any{"auth": map[string]any{"bearer_token_file": filepath.Join(s.Dir, "receiver.token"),
			"basic_auth": map[string]any{"username": OperatorUser, "password_file": filepath.Join(s.Dir, "operator.password")}}},
		"journal": map[string]any{"path": filepath.Join(s.Dir, "journal.db")},
		"plugins": map[string]any{"dir": s.PluginDir, "timeout": "1m"},
		"pipeline": map[string]any{"max_attempts": 3, "backoff": "200ms", "max_backoff": "1s",
			"fence_timeout": "5s", "verify_timeout": "30s", "switch_timeout": "5s"},
		"dns_servers": []any{map[string]any{"name": "main", "address": s.Named.Addr, "key_name": s.Named.KeyName,
			"algorithm": s.Named.Algorithm, "secret_file": s.Named.KeyFile}},
		"lxd_remotes": remotes,
		"backup_dir":  s.BackupDir,
		"services":    services,
	}
}

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
	s.ReceiverToken = "vcr-test-token"
	if err := os.WriteFile(filepath.Join(s.Dir, "receiver.token"), []byte(s.ReceiverToken+"\n"), 0o600); err != nil {
		t.Fatalf("system: %v", err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "operator.password"), []byte(OperatorPassword+"\n"), 0o600); err != nil {
		t.Fatalf("system: %v", err)
	}
	cfg, err := yaml.Marshal(s.receiverConfig())
	if err != nil {
		t.Fatalf("system: %v", err)
	}
	s.ConfigFile = filepath.Join(s.Dir, "receiver.yml")
	if err := os.WriteFile(s.ConfigFile, cfg, 0o600); err != nil {
		t.Fatalf("system: %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	s.ReceiverURL = "http://" + addr
	s.ReceiverArgs = []string{"--config.file", s.ConfigFile, "--web.listen-address", addr, "--log.level", "debug"}
	s.Client = api.New(s.ReceiverURL, s.ReceiverToken)
	s.StartReceiverProcess(t)
}

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
	tokenFile := filepath.Join(s.Dir, "receiver.token")
	// The shipped routing and inhibit rules, pointed at this receiver;
	// group_interval 1s so a group's changes reach it within the tests' waits.
	amCfg := AlertmanagerConfig(t, s.ReceiverURL+"/api/v1/alerts", tokenFile, "1s")
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

// AlertmanagerConfig is deploy/alertmanager/alertmanager.yml with the
// vcr-receiver webhook pointed at webhookURL, its bearer token read from
// tokenFile and the VCR route's group_interval set to groupInterval: the
// routes, grouping and inhibit rules are the production ones.
func AlertmanagerConfig(t testenv.TB, webhookURL, tokenFile, groupInterval string) string {
	t.Helper()
	path := filepath.Join(testenv.ModuleRoot(t), "deploy", "alertmanager", "alertmanager.yml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("system: %v", err)
	}
	var cfg struct {
		Global       map[string]any   `yaml:"global,omitempty"`
		Route        map[string]any   `yaml:"route"`
		Receivers    []map[string]any `yaml:"receivers"`
		InhibitRules []any            `yaml:"inhibit_rules"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("system: decode %s: %v", path, err)
	}
	hooks := 0
	for _, rc := range cfg.Receivers {
		if rc["name"] != "vcr-receiver" {
			continue
		}
		for _, h := range rc["webhook_configs"].([]any) {
			wc := h.(map[string]any)
			wc["url"] = webhookURL
			wc["http_config"].(map[string]any)["authorization"].(map[string]any)["credentials_file"] = tokenFile
			hooks++
		}
	}
	routes := 0
	for _, r := range cfg.Route["routes"].([]any) {
		if route := r.(map[string]any); route["receiver"] == "vcr-receiver" {
			route["group_interval"] = groupInterval
			routes++
		}
	}
	if hooks != 1 || routes != 1 {
		t.Fatalf("system: %s: want one vcr-receiver webhook and route, found %d and %d", path, hooks, routes)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatalf("system: encode alertmanager config: %v", err)
	}
	return string(out)
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

func (s *System) startPrometheus(t testenv.TB) {
	t.Helper()
	// One static config per exporter, so each target carries its host label
	// (as deploy/prometheus/prometheus.yml does).
	var targets strings.Builder
	for host, addr := range s.ExporterAddrs {
		fmt.Fprintf(&targets, "      - targets: ['%s']\n        labels: {host: %s, cloud: %s}\n", addr, host, s.Opts.Cloud)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['%s']
scrape_configs:
  - job_name: vcr-exporter
    static_configs:
%s`, strings.TrimPrefix(s.AM.URL, "http://"), targets.String())
	rules := filepath.Join(testenv.ModuleRoot(t), "rules", "vcr.rules.yml")
	if fors := s.shortFors(t, rules); len(fors) > 0 || s.Opts.RuleWindow != "" {
		b, err := os.ReadFile(rules)
		if err != nil {
			t.Fatalf("system: %v", err)
		}
		if len(fors) > 0 {
			if b, err = promrules.WithFor(b, fors); err != nil {
				t.Fatalf("system: %v", err)
			}
		}
		if s.Opts.RuleWindow != "" {
			b = []byte(strings.ReplaceAll(string(b), "[1m]", "["+s.Opts.RuleWindow+"]"))
		}
		rules = filepath.Join(s.Dir, "vcr.rules.yml")
		if err := os.WriteFile(rules, b, 0o644); err != nil {
			t.Fatalf("system: %v", err)
		}
	}
	s.Prom = testenv.StartPrometheus(t, testenv.PrometheusOptions{ConfigYAML: cfg, RuleFiles: []string{rules}})
}

// FailPrimary kills a service's primary the way a crash would: the domain is
// destroyed in libvirt and its service stops answering. It returns the moment
// of the destroy.
func (s *System) FailPrimary(t testenv.TB, name string) time.Time {
	t.Helper()
	svc := s.Service(t, name)
	svc.StopListener()
	at := time.Now()
	if svc.vm != nil {
		s.Libvirt.Virsh(t, "qemu:///system", "destroy", svc.Domain)
	} else {
		s.Driver.Destroy(t, svc.Domain)
	}
	return at
}

// RestorePrimary starts the primary again (for failback and flapping).
func (s *System) RestorePrimary(t testenv.TB, name string) {
	t.Helper()
	svc := s.Service(t, name)
	if svc.vm != nil {
		s.Libvirt.Virsh(t, "qemu:///system", "start", svc.Domain)
		testenv.WaitHTTP(t, "http://"+svc.vm.ListenAddr+"/", 2*time.Minute, nil)
		return
	}
	s.Driver.Start(t, svc.Domain)
	svc.startListener(t)
}

// Service returns a service by name or fails t.
func (s *System) Service(t testenv.TB, name string) *Service {
	t.Helper()
	svc, ok := s.Services[name]
	if !ok {
		t.Fatalf("system: no service %q", name)
	}
	return svc
}

// Resolve returns the service name's A records from the authoritative server.
func (s *System) Resolve(t testenv.TB, name string) []string {
	t.Helper()
	return s.Named.Lookup(t, s.Service(t, name).DNSName)
}

// Get resolves the service's name and fetches its page through it, the way a
// client of the service would.
func (s *System) Get(t testenv.TB, name string) (string, error) {
	t.Helper()
	addrs := s.Resolve(t, name)
	if len(addrs) != 1 {
		return "", fmt.Errorf("%s resolves to %v, want one address", name, addrs)
	}
	return httpGet("http://" + net.JoinHostPort(addrs[0], fmt.Sprint(s.Service(t, name).Port)) + "/")
}

// WaitIncident polls the receiver until the service has an incident that
// satisfies done, and returns it.
func (s *System) WaitIncident(t testenv.TB, name string, timeout time.Duration, done func(api.Incident) bool) api.Incident {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last []api.Incident
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		incs, err := s.Client.Incidents(ctx)
		cancel()
		if err == nil {
			last = incs
			for _, inc := range incs {
				if inc.Service == name && done(inc) {
					return inc
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("system: no matching incident for %s after %s (last error %v); incidents: %s\nreceiver log:\n%s",
				name, timeout, err, summarize(last), s.ReceiverProc.Tail(40))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Incidents returns every incident of a service.
func (s *System) Incidents(t testenv.TB, name string) []api.Incident {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	incs, err := s.Client.Incidents(ctx)
	if err != nil {
		t.Fatalf("system: list incidents: %v", err)
	}
	var out []api.Incident
	for _, inc := range incs {
		if inc.Service == name {
			out = append(out, inc)
		}
	}
	return out
}

// Ended reports whether an incident reached an end state.
func Ended(inc api.Incident) bool { return !inc.State.Running() }

func summarize(incs []api.Incident) string {
	var b strings.Builder
	for _, inc := range incs {
		fmt.Fprintf(&b, "\n  %s %s %s %s", inc.ID, inc.Service, inc.State, inc.Error)
	}
	return b.String()
}

func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return string(b), fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), nil
}

// shortFors says what each alert's `for:` becomes under RuleFor or
// RuleForDivisor; nil when the shipped values stay.
func (s *System) shortFors(t testenv.TB, path string) map[string]time.Duration {
	if s.Opts.RuleFor == 0 && s.Opts.RuleForDivisor <= 1 {
		return nil
	}
	f, err := promrules.ReadFile(path)
	if err != nil {
		t.Fatalf("system: %v", err)
	}
	fors := map[string]time.Duration{}
	for _, a := range f.Alerts() {
		if a.For == "" {
			continue
		}
		d := max(s.Opts.RuleFor, 0)
		if s.Opts.RuleForDivisor > 1 {
			orig, err := time.ParseDuration(a.For)
			if err != nil {
				t.Fatalf("system: rules: %s for: %q: %v", a.Alert, a.For, err)
			}
			d = (orig / time.Duration(s.Opts.RuleForDivisor)).Round(time.Millisecond)
		}
		fors[a.Alert] = d
	}
	return fors
}
