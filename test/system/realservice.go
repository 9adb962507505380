package system

// Real services: a primary that is a QEMU domain booting the service rootfs
// (Apache, MariaDB, sshd), a standby container from the same image, and
// vcr-sync keeping the data on the standby (a MariaDB replica, or the web
// root copied, for warm; data backups in the backup store for cold). The
// receiver verifies a database with a real query and promotes, reverses and
// resumes the data through vcr-sync.

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"gopkg.in/yaml.v3"

	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// The real services a ServiceSpec can name.
const (
	RealApache  = "apache"  // HTTP on 80; its data is /var/www/html
	RealMariaDB = "mariadb" // MariaDB on 3306; its data is the database shop
)

// The accounts on the real MariaDBs, created on the primary (seeding and data
// backups copy them to the standby). SQLUser is vcr-sync's account, and the
// one tests and the receiver's check log in with.
const (
	SQLUser         = "vcrsync"
	SQLPassword     = "vcr-sync-secret"
	replUser        = "vcrrepl"
	replPassword    = "vcr-repl-secret"
	WebRoot         = "/var/www/html"
	OrdersTable     = "shop.orders"
	syncRPO         = 30 * time.Second
	coldBackupEvery = time.Hour // backups in the tests are taken on demand (SyncNow)
)

// realService is what a Real service runs on.
type realService struct {
	vm *testenv.ServiceVM
	ct *testenv.ServiceContainer // the standby container (a cold one exists only as a backup)
}

// realKeys are the SSH keys of the real services: the admin's (tests) and
// vcr-sync's, both authorized for root on every primary and container.
func (s *System) realKeys(t testenv.TB) []string {
	t.Helper()
	if s.AdminKey == "" {
		var adminPub, syncPub string
		s.AdminKey, adminPub = testenv.SSHKeyPair(t, "vcr-test-admin")
		s.syncKey, syncPub = testenv.SSHKeyPair(t, "vcr-sync")
		s.authorized = []string{adminPub, syncPub}
	}
	return s.authorized
}

// startRealPrimary boots the service's primary VM at its own loopback
// address (chosen by startPrimaries) and, for a database, creates the
// accounts and the table the tests write to. It runs beside the standby's
// start-up (parallel), so it touches only its own service.
func (s *System) startRealPrimary(t testenv.TB, svc *Service) {
	t.Helper()
	vm := s.Libvirt.StartServiceVM(t, testenv.ServiceVMOptions{
		Name: testenv.UniqueName(t, "vcr-"+svc.Name+"-"), Address: svc.PrimaryAddr, AuthorizedKeys: s.authorized})
	svc.real.vm = vm
	svc.vm = &vm.VM
	svc.Domain, svc.UUID = vm.Name, vm.UUID
	if svc.Real == RealMariaDB {
		s.AdminSSH(t, vm.Address, `mariadb -e "CREATE USER `+SQLUser+`@'%' IDENTIFIED BY '`+SQLPassword+`'; GRANT ALL ON *.* TO `+SQLUser+`@'%';
			CREATE USER `+replUser+`@'%' IDENTIFIED BY '`+replPassword+`'; GRANT REPLICATION SLAVE ON *.* TO `+replUser+`@'%';
			CREATE DATABASE shop; CREATE TABLE `+OrdersTable+` (id INT PRIMARY KEY, note VARCHAR(64))"`)
	}
}

// realPort is the port a Real service answers on.
func realPort(real string) int {
	if real == RealMariaDB {
		return testenv.MySQLPort
	}
	return testenv.HTTPPort
}

// launchRealStandby launches the service's standby container, named after
// the service, at its own address; a database's replicates from the primary.
func (s *System) launchRealStandby(t testenv.TB, svc *Service) {
	t.Helper()
	opts := testenv.ServiceContainerOptions{Name: svc.Name, AuthorizedKeys: s.realKeys(t)}
	if svc.Real == RealMariaDB && svc.Strategy == "warm" {
		// The primary may still be booting: its address is known already.
		opts.ReplicationSource = net.JoinHostPort(svc.PrimaryAddr, fmt.Sprint(testenv.MySQLPort))
	}
	svc.real.ct = s.Standby.LaunchServiceContainer(t, opts)
}

// directRemote names the standby LXD for the Real services' cold strategy
// without an address: each restored container keeps its own listen address
// (the service's, 127.0.X.Y:port) instead of being moved to the standby's
// one, where several services on port 80 would collide.
const directRemote = "standby-direct"

// addRealRemote adds directRemote when a service is Real.
func (s *System) addRealRemote(remotes map[string]any, standby map[string]any) {
	for _, svc := range s.Services {
		if svc.Real != "" {
			direct := map[string]any{}
			for k, v := range standby {
				if k != "address" {
					direct[k] = v
				}
			}
			remotes[directRemote] = direct
			return
		}
	}
}

// proxyDevice is the standby container's proxy device of the service's port.
func (svc *Service) proxyDevice() string { return fmt.Sprintf("port%d", svc.Port) }

// realReceiverConfig adds to a Real service's receiver config: its proxy
// device, vcr-sync for the warm strategy's promotion and for failbacks, and
// a real query as the database's check.
func (s *System) realReceiverConfig(svc *Service, settings, service map[string]any) {
	settings["proxy_device"] = svc.proxyDevice()
	if svc.Strategy == "warm" {
		settings["sync"] = s.SyncURL
	} else {
		settings["remote"] = directRemote
	}
	service["sync"] = map[string]any{"url": s.SyncURL}
	if svc.Real == RealMariaDB {
		service["check"] = map[string]any{"timeout": "90s", "mysql": map[string]any{
			"user": SQLUser, "password_file": s.sqlPasswordFile(), "query": "SELECT COUNT(*) FROM " + OrdersTable}}
	} else {
		service["check"] = map[string]any{"http_path": "/", "timeout": "90s"}
	}
}

func (s *System) sqlPasswordFile() string { return filepath.Join(s.Dir, "sql.password") }

// startSync starts vcr-sync for the Real services and makes their standby
// data current once (seeds a replica, copies the web root, takes a data
// backup), so a test starts from a standby that holds the primary's data.
func (s *System) startSync(t testenv.TB) {
	t.Helper()
	var services []any
	for _, name := range s.names() {
		if svc := s.Services[name]; svc.Real != "" {
			services = append(services, s.syncService(svc))
		}
	}
	if len(services) == 0 {
		return
	}
	replFile := filepath.Join(s.Dir, "repl.password")
	for f, pw := range map[string]string{s.sqlPasswordFile(): SQLPassword, replFile: replPassword} {
		if err := os.WriteFile(f, []byte(pw+"\n"), 0o600); err != nil {
			t.Fatalf("system: %v", err)
		}
	}
	cfg, err := yaml.Marshal(map[string]any{
		"state_dir": filepath.Join(s.Dir, "sync"),
		"ssh":       map[string]any{"key_file": s.syncKey},
		"mysql": map[string]any{"user": SQLUser, "password_file": s.sqlPasswordFile(),
			"replication_user": replUser, "replication_password_file": replFile},
		"services": services,
	})
	if err != nil {
		t.Fatalf("system: %v", err)
	}
	file := filepath.Join(s.Dir, "sync.yml")
	if err := os.WriteFile(file, cfg, 0o600); err != nil {
		t.Fatalf("system: %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	s.SyncURL = "http://" + addr
	s.SyncProc = testenv.StartDaemon(t, testenv.DaemonSpec{
		Name: "vcr-sync", Path: testenv.Binary(t, "vcr-sync"), Dir: s.Dir, Log: filepath.Join(s.Dir, "vcr-sync.log"),
		Args:  []string{"--config.file", file, "--web.listen-address", addr, "--log.level", "debug"},
		Ready: func() error { return testenv.HTTPOK(s.SyncURL + "/-/ready") },
	})
	for _, name := range s.names() {
		svc := s.Services[name]
		for _, kind := range svc.syncKinds() {
			s.SyncNow(t, name, kind)
		}
	}
	s.logf("vcr-sync up at %s; standby data current", s.SyncURL)
}

// syncKinds are the kinds of data vcr-sync keeps for a Real service.
func (svc *Service) syncKinds() []string {
	switch {
	case svc.Real == "":
		return nil
	case svc.Strategy == "cold":
		return []string{"backup"}
	case svc.Real == RealMariaDB:
		return []string{"database"}
	}
	return []string{"files"}
}

// syncService is a Real service's entry in vcr-sync's config.
func (s *System) syncService(svc *Service) map[string]any {
	vm := svc.real.vm
	e := map[string]any{"name": svc.Name, "rpo": syncRPO.String(),
		"primary": map[string]any{"ssh": vm.SSHAddr(), "mysql": vm.MySQLAddr(), "mysql_from_peer": testenv.ReplicationSourceInside}}
	if svc.Strategy == "cold" {
		backup := map[string]any{"dir": s.BackupDir, "interval": coldBackupEvery.String(), "rpo": (2 * coldBackupEvery).String()}
		if svc.Real == RealMariaDB {
			backup["database"] = true
		} else {
			backup["paths"] = []string{WebRoot}
		}
		e["backup"] = backup
		return e
	}
	ct := svc.real.ct
	e["standby"] = map[string]any{"ssh": ct.SSHAddr(), "mysql": ct.MySQLAddr(), "mysql_from_peer": ct.MySQLForVMs}
	if svc.Real == RealMariaDB {
		e["database"] = map[string]any{"replicate": true, "heartbeat_interval": "1s"}
	} else {
		e["sync"] = map[string]any{"paths": []string{WebRoot}, "interval": "5s"}
	}
	return e
}

// SyncNow has vcr-sync make one attempt of a kind of a service's data now
// (database, files, backup) and fails t if it does not succeed.
func (s *System) SyncNow(t testenv.TB, name, kind string) {
	t.Helper()
	u := s.SyncURL + "/api/v1/services/" + name + "/sync/" + kind
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Post(u, "", nil)
	if err != nil {
		t.Fatalf("system: POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b strings.Builder
		_, _ = fmt.Fprint(&b, resp.Status)
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		t.Fatalf("system: POST %s: %s %s\nvcr-sync log:\n%s", u, b.String(), buf[:n], s.SyncProc.Tail(30))
	}
}

// AdminSSH runs a shell command as root on a real service's primary or
// container (by its address) and fails t if it fails.
func (s *System) AdminSSH(t testenv.TB, addr, command string) string {
	t.Helper()
	out, err := testenv.SSHRun(addr, s.AdminKey, command)
	if err != nil {
		t.Fatalf("system: %v", err)
	}
	return out
}

// Primary and Standby are the addresses of a Real service's primary VM and
// standby container.
func (s *System) Primary(t testenv.TB, name string) *testenv.ServiceVM {
	t.Helper()
	return s.realOf(t, name).vm
}

// Standby is the Real service's standby container.
func (s *System) StandbyContainer(t testenv.TB, name string) *testenv.ServiceContainer {
	t.Helper()
	return s.realOf(t, name).ct
}

func (s *System) realOf(t testenv.TB, name string) *realService {
	t.Helper()
	svc := s.Service(t, name)
	if svc.real == nil {
		t.Fatalf("system: %s is not a real service", name)
	}
	return svc.real
}

var quietSQL sync.Once

// OpenSQL opens the MariaDB at addr (host:port) as SQLUser, with short
// timeouts: a client of the database service.
func OpenSQL(addr string) *sql.DB {
	// The driver logs every connection a failing primary drops; the callers
	// see the errors themselves.
	quietSQL.Do(func() { _ = mysql.SetLogger(log.New(io.Discard, "", 0)) })
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = SQLUser, SQLPassword, "tcp", addr
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 3*time.Second, 5*time.Second, 5*time.Second
	conn, _ := mysql.NewConnector(cfg) // only fails on a bad TLS or auth plugin name, set neither
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(2)
	db.SetConnMaxLifetime(10 * time.Second)
	return db
}

// SQLAddr resolves the service's name and returns its MariaDB's address, as
// a client of the service would reach it.
func (s *System) SQLAddr(t testenv.TB, name string) string {
	t.Helper()
	addrs := s.Resolve(t, name)
	if len(addrs) != 1 {
		t.Fatalf("system: %s resolves to %v, want one address", name, addrs)
	}
	return net.JoinHostPort(addrs[0], fmt.Sprint(testenv.MySQLPort))
}

// waitMySQL waits until the MariaDB at addr accepts SQLUser's login.
func waitMySQL(t testenv.TB, addr string, timeout time.Duration) {
	t.Helper()
	db := OpenSQL(addr)
	defer db.Close()
	var err error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return
		}
	}
	t.Fatalf("system: MariaDB at %s did not accept a login within %s: %v", addr, timeout, err)
}
