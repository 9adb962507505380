package system

// Start-up: the order the parts come up in, the primaries and the standby's
// containers. The daemons (receiver, exporters, Alertmanager, Prometheus)
// start in daemons.go.

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/backupstore"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

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

	// Primaries first: a real VM takes the longest, and named needs their
	// addresses. Real services' primaries boot while the standby starts.
	records, boots := s.startPrimaries(t)
	s.logf("primaries started (%s)", time.Since(begin).Round(time.Millisecond))

	s.Named = testenv.StartNamed(t, testenv.NamedOptions{Zone: Zone, Records: records, TTL: 1})
	parallel(t, append(boots, s.startStandby)...)
	s.logf("standby containers ready (%s)", time.Since(begin).Round(time.Millisecond))
	s.startSync(t)

	s.startReceiver(t)
	s.startAlerting(t)
	s.logf("system up in %s", time.Since(begin).Round(time.Millisecond))
	return s
}

// startPrimaries starts each service's primary, a real QEMU VM or a
// test-driver domain with a stand-in listener, and returns the DNS records
// pointing at them (label -> address). The primaries of Real services are
// returned as boots to run, their addresses already chosen.
func (s *System) startPrimaries(t testenv.TB) (map[string]string, []func(testenv.TB)) {
	t.Helper()
	records := map[string]string{}
	prefix, base := s.Opts.PrimaryNet, s.Opts.PortBase
	if prefix == "" {
		prefix = "127.0.0."
	}
	if base == 0 {
		base = 18080
	}
	var boots []func(testenv.TB)
	for i, spec := range s.Opts.Services {
		svc := &Service{ServiceSpec: spec, Port: base + i, PrimaryAddr: fmt.Sprintf("%s%d", prefix, 10+i)}
		if spec.Port != 0 {
			svc.Port = spec.Port
		}
		if svc.Host == "" {
			svc.Host = s.Opts.Host
		}
		svc.DNSName = spec.Name + "." + Zone
		if spec.Real != "" {
			svc.PrimaryAddr, svc.Port, svc.RealVM = testenv.ServiceAddress(t), realPort(spec.Real), true
			svc.real = &realService{}
			s.realKeys(t)
			boots = append(boots, func(t testenv.TB) { s.startRealPrimary(t, svc) })
		} else if spec.RealVM {
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
	return records, boots
}

// startStandby starts the standby LXD (and the bigger VM's with ScaleUp) and
// launches every service's container there. A cold service keeps only a
// backup of its container, as a cold standby does.
func (s *System) startStandby(t testenv.TB) {
	t.Helper()
	s.Standby = testenv.StartLXD(t, testenv.LXDOptions{Name: "standby", Address: StandbyAddress})
	if s.Opts.ScaleUp {
		s.Bigger = testenv.StartLXD(t, testenv.LXDOptions{Name: "bigger", Address: BiggerAddress})
	}
	s.BackupDir = filepath.Join(s.Dir, "backups")
	var backups *backupstore.Store
	var standby *lxd.Client
	for _, name := range s.names() {
		svc := s.Services[name]
		if svc.Real != "" {
			s.launchRealStandby(t, svc)
		} else {
			s.Standby.LaunchService(t, name, svc.Port)
		}
		if svc.Strategy != "cold" {
			continue
		}
		if backups == nil {
			backups, standby = s.openBackups(t)
		}
		s.backupAndRemove(t, backups, standby, svc)
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
