// Package system starts the whole of VCRcovery on loopback from real parts:
// libvirtd with primaries, named serving the service zone, LXD as the standby
// VM (and a bigger VM), Alertmanager, optionally Prometheus with the project's
// rules, the exporter and the receiver with its strategy plugins. The e2e
// tests, the recovery-time benchmark and `make demo` all build on it, so they
// exercise the same wiring. README.md lists the files.
package system

// What a running system is: the addresses it owns, the options Start takes,
// and the System and Service values tests hold.

import (
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
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
	// OwnDNSKey switches the service's DNS through a dns_servers entry of
	// its own, whose secret file is a copy of named's key, so that
	// RefuseDNSUpdates can make named refuse this service's UPDATEs alone.
	OwnDNSKey bool
	// Port is the service's port on the primary and in its container;
	// 0 gives each service one of its own. Services sharing a port on the
	// standby need Options.AddressPool, and must be cold: warm containers
	// all run, at first on the standby's one address.
	Port int
	// Resources is what the service declares it needs (services[].resources).
	Resources *Resources
	// Real runs the real service (RealApache or RealMariaDB, realservice.go):
	// a QEMU primary booting the service rootfs, a standby container from the
	// same image, and vcr-sync keeping the data on the standby. Implies RealVM.
	Real string
}

// Resources is a service's resources block.
type Resources struct {
	VCPUs  float64
	Memory string // LXD's size syntax: 512MiB
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
	// AddressPool gives the standby remote an address_pool, from which each
	// recovered service gets an address of its own (127.0.1.0/24, say).
	AddressPool string
	// Logf receives progress lines; nil logs through t.
	Logf func(format string, args ...any)
	// MaxConcurrentPrepares sets the receiver's
	// pipeline.max_concurrent_prepares (0: its default).
	MaxConcurrentPrepares int
	// PrimaryNet and PortBase place service i's primary at
	// PrimaryNet+(10+i):PortBase+i (defaults "127.0.0." and 18080); its
	// container serves the same port on the standby. A run that must not
	// meet other systems on the same machine picks its own.
	PrimaryNet string
	PortBase   int
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
	real     *realService
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
	// Sync is vcr-sync's process and URL when a service is Real.
	SyncProc *testenv.Proc
	SyncURL  string
	// AdminKey is the SSH key authorized for root on the real services'
	// primaries and containers (SSH).
	AdminKey string

	syncKey    string   // vcr-sync's SSH key
	authorized []string // the admin's and vcr-sync's public keys

	t testenv.TB
}

func (s *System) logf(format string, args ...any) {
	if s.Opts.Logf != nil {
		s.Opts.Logf(format, args...)
		return
	}
	s.t.Logf(format, args...)
}

// names returns the services' names sorted, so that configs, containers and
// logs come out in the same order on every run.
func (s *System) names() []string {
	var n []string
	for name := range s.Services {
		n = append(n, name)
	}
	sort.Strings(n)
	return n
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
