package datasync

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"strings"
	"time"

	"github.com/vcrcovery/vcrcovery/internal/yamlx"
	"github.com/vcrcovery/vcrcovery/plugins/backupstore"
)

// Config is vcr-sync's configuration file.
type Config struct {
	// StateDir holds the file mirrors, the known_hosts file (by default) and
	// each service's mode and last successes, so a restarted daemon reports
	// the true age of the data at once.
	StateDir string      `yaml:"state_dir"`
	SSH      SSHConfig   `yaml:"ssh"`
	MySQL    MySQLConfig `yaml:"mysql"`
	Services []Service   `yaml:"services"`
}

// SSHConfig is how the daemon reaches the primaries and standby containers:
// one dedicated key, authorized for root on every side.
type SSHConfig struct {
	KeyFile        string        `yaml:"key_file"`
	KnownHostsFile string        `yaml:"known_hosts_file"` // default <state_dir>/known_hosts
	User           string        `yaml:"user"`             // default root
	ConnectTimeout time.Duration `yaml:"connect_timeout"`  // default 10s
	// StrictHostKeyChecking is "accept-new" (default: learn a host's key on
	// first contact, refuse a changed one) or "yes" (only keys already in the
	// known_hosts file).
	StrictHostKeyChecking string `yaml:"strict_host_key_checking"`
}

// MySQLConfig holds the MariaDB accounts, the same on every side (seeding a
// replica copies the primary's accounts to it).
type MySQLConfig struct {
	User                    string `yaml:"user"` // the daemon's own account: replication admin, heartbeat writes
	PasswordFile            string `yaml:"password_file"`
	ReplicationUser         string `yaml:"replication_user"` // what a replica logs in with (REPLICATION SLAVE)
	ReplicationPasswordFile string `yaml:"replication_password_file"`

	password, replicationPassword string
}

// Service is one service whose data the daemon keeps on its standby.
type Service struct {
	Name string `yaml:"name"`
	// RPO is the most data, in time, the service may lose: the age beyond which
	// its standby's copy is stale (vcr_sync_rpo_seconds, the alert's bound).
	RPO      time.Duration  `yaml:"rpo"`
	Primary  Endpoint       `yaml:"primary"`
	Standby  Endpoint       `yaml:"standby"`
	Database DatabaseConfig `yaml:"database"`
	Sync     FilesConfig    `yaml:"sync"`
	Backup   BackupConfig   `yaml:"backup"`
}

// Endpoint is one side of a service: its SSH and MariaDB addresses.
type Endpoint struct {
	SSH   string `yaml:"ssh"`   // host:port
	MySQL string `yaml:"mysql"` // host:port, as the daemon reaches it
	// MySQLFromPeer is this MariaDB as the other side's MariaDB reaches it, to
	// replicate from it; default MySQL. It differs when the sides have no
	// route to each other's address (a standby container without a NIC
	// reaches its primary through a proxy device).
	MySQLFromPeer string `yaml:"mysql_from_peer"`
}

// DatabaseConfig turns on warm MariaDB replication.
type DatabaseConfig struct {
	Replicate bool `yaml:"replicate"`
	// HeartbeatInterval is how often a heartbeat row is written on the source;
	// the replica's age is measured by the newest heartbeat it applied.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"` // default 1s
	// PromoteTimeout bounds the wait for the replica to apply what it has
	// received before it is promoted.
	PromoteTimeout time.Duration `yaml:"promote_timeout"` // default 30s
}

// FilesConfig declares the paths replicated to the standby (warm).
type FilesConfig struct {
	Paths    []string      `yaml:"paths"`
	Interval time.Duration `yaml:"interval"`    // default 10s
	BWLimit  int           `yaml:"bwlimit_kib"` // rsync --bwlimit in KiB/s; 0: none
}

// BackupConfig schedules cold backups from the primary into a backup store.
type BackupConfig struct {
	Dir      string        `yaml:"dir"`      // the store; empty: no backups
	Folder   string        `yaml:"folder"`   // default the service's name
	Interval time.Duration `yaml:"interval"` // default 1h
	Keep     int           `yaml:"keep"`     // default 7
	Database bool          `yaml:"database"` // include a mariadb-dump
	Paths    []string      `yaml:"paths"`    // default sync.paths
	// RPO is the backups' own bound; default the service's rpo.
	RPO time.Duration `yaml:"rpo"`
}

// Kinds of data, the kind label of the metrics.
const (
	KindDatabase = "database"
	KindFiles    = "files"
	KindBackup   = "backup"
)

// Kinds lists the kinds this service syncs.
func (s *Service) Kinds() []string {
	var k []string
	if s.Database.Replicate {
		k = append(k, KindDatabase)
	}
	if len(s.Sync.Paths) > 0 {
		k = append(k, KindFiles)
	}
	if s.Backup.Dir != "" {
		k = append(k, KindBackup)
	}
	return k
}

// RPOFor is the bound on the age of one kind of the service's data.
func (s *Service) RPOFor(kind string) time.Duration {
	if kind == KindBackup {
		return s.Backup.RPO
	}
	return s.RPO
}

// LoadConfig reads, defaults and validates the configuration file.
func LoadConfig(file string) (*Config, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var c Config
	if err := yamlx.DecodeStrict(b, &c); err != nil {
		return nil, fmt.Errorf("config %s: %w", file, err)
	}
	if err := c.Prepare(); err != nil {
		return nil, fmt.Errorf("config %s: %w", file, err)
	}
	return &c, nil
}

// Prepare fills in defaults, validates, and reads the password files. Errors
// name the field, as in services[1].sync.paths[0].
func (c *Config) Prepare() error {
	c.defaults()
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
	}
	if c.StateDir == "" {
		bad("state_dir", "required: a directory for mirrors and state, e.g. /var/lib/vcr-sync")
	}
	if c.SSH.KeyFile == "" {
		bad("ssh.key_file", "required: the dedicated private key authorized for %s on every side", c.SSH.User)
	} else if _, err := os.Stat(c.SSH.KeyFile); err != nil {
		bad("ssh.key_file", "%v: create one with ssh-keygen -t ed25519 -N '' -f %s", err, c.SSH.KeyFile)
	}
	if v := c.SSH.StrictHostKeyChecking; v != "yes" && v != "accept-new" {
		bad("ssh.strict_host_key_checking", "%q: use accept-new or yes", v)
	}
	if len(c.Services) == 0 {
		bad("services", "none configured: nothing to sync")
	}
	needMySQL := false
	seen := map[string]bool{}
	for i := range c.Services {
		s := &c.Services[i]
		f := fmt.Sprintf("services[%d]", i)
		if err := backupstore.ValidService(s.Name); err != nil {
			bad(f+".name", "%v", err)
		} else if seen[s.Name] {
			bad(f+".name", "%q appears twice", s.Name)
		}
		seen[s.Name] = true
		if s.RPO <= 0 {
			bad(f+".rpo", "required and positive: the age beyond which the standby's data is stale, e.g. 30s")
		}
		if len(s.Kinds()) == 0 {
			bad(f, "syncs nothing: set database.replicate, sync.paths or backup.dir")
		}
		warm := s.Database.Replicate || len(s.Sync.Paths) > 0
		checkAddr(bad, f+".primary.ssh", s.Primary.SSH, true)
		checkAddr(bad, f+".standby.ssh", s.Standby.SSH, warm)
		if s.Database.Replicate {
			needMySQL = true
			checkAddr(bad, f+".primary.mysql", s.Primary.MySQL, true)
			checkAddr(bad, f+".standby.mysql", s.Standby.MySQL, true)
			checkAddr(bad, f+".primary.mysql_from_peer", s.Primary.MySQLFromPeer, false)
			checkAddr(bad, f+".standby.mysql_from_peer", s.Standby.MySQLFromPeer, false)
			if s.RPO > 0 && s.Database.HeartbeatInterval >= s.RPO {
				bad(f+".database.heartbeat_interval", "%s is not below rpo %s: the replica's age could not be told apart from a stale replica", s.Database.HeartbeatInterval, s.RPO)
			}
		}
		checkPaths(bad, f+".sync.paths", s.Sync.Paths)
		if len(s.Sync.Paths) > 0 && s.RPO > 0 && s.Sync.Interval >= s.RPO {
			bad(f+".sync.interval", "%s is not below rpo %s: the files would be older than the rpo between two syncs; lower the interval or raise rpo", s.Sync.Interval, s.RPO)
		}
		if s.Sync.BWLimit < 0 {
			bad(f+".sync.bwlimit_kib", "negative")
		}
		if s.Backup.Dir != "" {
			if err := backupstore.ValidService(s.Backup.Folder); err != nil {
				bad(f+".backup.folder", "%v", err)
			}
			checkPaths(bad, f+".backup.paths", s.Backup.Paths)
			if s.Backup.Keep < 1 {
				bad(f+".backup.keep", "%d: keep at least 1 backup", s.Backup.Keep)
			}
			if !s.Backup.Database && len(s.Backup.Paths) == 0 {
				bad(f+".backup", "backs up nothing: set backup.database or paths (sync.paths are the default)")
			}
			if s.Backup.Interval >= s.Backup.RPO {
				bad(f+".backup.interval", "%s is not below the backups' rpo %s: set backup.rpo (it defaults to the service's rpo)", s.Backup.Interval, s.Backup.RPO)
			}
		}
	}
	if needMySQL {
		var err error
		if c.MySQL.password, err = readSecret(c.MySQL.PasswordFile); err != nil {
			bad("mysql.password_file", "%v", err)
		}
		if c.MySQL.replicationPassword, err = readSecret(c.MySQL.ReplicationPasswordFile); err != nil {
			bad("mysql.replication_password_file", "%v", err)
		}
		if c.MySQL.User == "" || c.MySQL.ReplicationUser == "" {
			bad("mysql", "user and replication_user are required when a service replicates its database")
		}
	}
	return errors.Join(errs...)
}

func (c *Config) defaults() {
	if c.SSH.User == "" {
		c.SSH.User = "root"
	}
	if c.SSH.ConnectTimeout == 0 {
		c.SSH.ConnectTimeout = 10 * time.Second
	}
	if c.SSH.StrictHostKeyChecking == "" {
		c.SSH.StrictHostKeyChecking = "accept-new"
	}
	if c.SSH.KnownHostsFile == "" && c.StateDir != "" {
		c.SSH.KnownHostsFile = path.Join(c.StateDir, "known_hosts")
	}
	for i := range c.Services {
		s := &c.Services[i]
		if s.Primary.MySQLFromPeer == "" {
			s.Primary.MySQLFromPeer = s.Primary.MySQL
		}
		if s.Standby.MySQLFromPeer == "" {
			s.Standby.MySQLFromPeer = s.Standby.MySQL
		}
		if s.Database.HeartbeatInterval == 0 {
			s.Database.HeartbeatInterval = time.Second
		}
		if s.Database.PromoteTimeout == 0 {
			s.Database.PromoteTimeout = 30 * time.Second
		}
		if s.Sync.Interval == 0 {
			s.Sync.Interval = 10 * time.Second
		}
		if s.Backup.Folder == "" {
			s.Backup.Folder = s.Name
		}
		if s.Backup.Interval == 0 {
			s.Backup.Interval = time.Hour
		}
		if s.Backup.Keep == 0 {
			s.Backup.Keep = 7
		}
		if s.Backup.Paths == nil {
			s.Backup.Paths = s.Sync.Paths
		}
		if s.Backup.RPO == 0 {
			s.Backup.RPO = s.RPO
		}
	}
}

func checkAddr(bad func(string, string, ...any), field, addr string, required bool) {
	if addr == "" {
		if required {
			bad(field, "required: host:port")
		}
		return
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		bad(field, "%q: want host:port", addr)
	}
}

// checkPaths refuses what rsync --delete could turn into a disaster: relative
// paths, the root, duplicates and one path inside another.
func checkPaths(bad func(string, string, ...any), field string, paths []string) {
	for i, p := range paths {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case !path.IsAbs(p):
			bad(f, "%q is not absolute", p)
		case path.Clean(p) != p:
			bad(f, "%q: write it as %q", p, path.Clean(p))
		case p == "/":
			bad(f, "the root cannot be synced: name the directories that hold the data")
		}
		for j, q := range paths[:i] {
			if p == q || strings.HasPrefix(p+"/", q+"/") || strings.HasPrefix(q+"/", p+"/") {
				bad(f, "%q overlaps %s[%d] %q: keep one", p, field, j, q)
			}
		}
	}
}

func readSecret(file string) (string, error) {
	if file == "" {
		return "", errors.New("required")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s is empty", file)
	}
	return s, nil
}
