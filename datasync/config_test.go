package datasync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// validConfig is a config with one service using every kind.
func validConfig(t *testing.T) (dir, yml string) {
	dir = t.TempDir()
	key := writeFile(t, dir, "key", "not checked here")
	pw := writeFile(t, dir, "pw", "secret\n")
	return dir, `state_dir: ` + dir + `/state
ssh: {key_file: ` + key + `}
mysql: {user: vcrsync, password_file: ` + pw + `, replication_user: vcrrepl, replication_password_file: ` + pw + `}
services:
  - name: shop
    rpo: 30s
    primary: {ssh: "10.0.0.1:22", mysql: "10.0.0.1:3306"}
    standby: {ssh: "10.0.0.2:22", mysql: "10.0.0.2:3306", mysql_from_peer: "10.0.0.9:3307"}
    database: {replicate: true}
    sync: {paths: [/var/www/html, /srv/uploads]}
    backup: {dir: ` + dir + `/backups, interval: 10s, database: true}
`
}

func TestLoadConfigDefaults(t *testing.T) {
	dir, yml := validConfig(t)
	c, err := LoadConfig(writeFile(t, dir, "sync.yml", yml))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Services[0]
	if c.SSH.User != "root" || c.SSH.StrictHostKeyChecking != "accept-new" || c.SSH.KnownHostsFile != dir+"/state/known_hosts" {
		t.Errorf("ssh defaults: %+v", c.SSH)
	}
	if s.Primary.MySQLFromPeer != "10.0.0.1:3306" || s.Standby.MySQLFromPeer != "10.0.0.9:3307" {
		t.Errorf("mysql_from_peer: primary %q standby %q", s.Primary.MySQLFromPeer, s.Standby.MySQLFromPeer)
	}
	if s.Database.HeartbeatInterval != time.Second || s.Sync.Interval != 10*time.Second || s.Backup.Keep != 7 ||
		s.Backup.Folder != "shop" || s.Backup.RPO != 30*time.Second || len(s.Backup.Paths) != 2 {
		t.Errorf("service defaults: %+v", s)
	}
	if got := strings.Join(s.Kinds(), ","); got != "database,files,backup" {
		t.Errorf("kinds %s", got)
	}
	if c.MySQL.password != "secret" {
		t.Errorf("password read as %q, want the file without its newline", c.MySQL.password)
	}
}

func TestLoadConfigRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"relative path", "/srv/uploads]", "srv/uploads]", `services[0].sync.paths[1]: "srv/uploads" is not absolute`},
		{"root", "/srv/uploads]", "/]", "services[0].sync.paths[1]: the root cannot be synced"},
		{"nested paths", "/srv/uploads]", "/var/www/html/img]", "overlaps services[0].sync.paths[0]"},
		{"interval not below rpo", "sync: {paths", "sync: {interval: 30s, paths", "services[0].sync.interval: 30s is not below rpo 30s"},
		{"backup interval beyond its rpo", "interval: 10s, database", "interval: 1h, database", "services[0].backup.interval: 1h0m0s is not below the backups' rpo 30s: set backup.rpo"},
		{"no rpo", "rpo: 30s", "rpo: 0s", "services[0].rpo: required"},
		{"bad service name", "name: shop", "name: ../shop", "services[0].name"},
		{"address without port", `mysql: "10.0.0.1:3306"`, `mysql: "10.0.0.1"`, `services[0].primary.mysql: "10.0.0.1": want host:port`},
		{"unknown key", "rpo: 30s", "rpo: 30s\n    rpoo: 1s", "field rpoo not found"},
		{"host key checking", "ssh: {key_file", "ssh: {strict_host_key_checking: no, key_file", "ssh.strict_host_key_checking"},
		{"missing key file", "ssh: {key_file: ", "ssh: {key_file: /nonexistent", "ssh.key_file: stat /nonexistent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, yml := validConfig(t)
			bad := strings.Replace(yml, tc.from, tc.to, 1)
			if bad == yml {
				t.Fatalf("test case does not change the config: %q not found", tc.from)
			}
			_, err := LoadConfig(writeFile(t, dir, "sync.yml", bad))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v; want it to contain %q", err, tc.want)
			}
		})
	}
}
