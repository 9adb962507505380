package datasync_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/vcrcovery/vcrcovery/datasync"
	"github.com/vcrcovery/vcrcovery/plugins/backupstore"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

const (
	syncPassword = "sync-secret"
	replPassword = "repl-secret"
)

// One real primary (a QEMU TCG domain running Apache, MariaDB and sshd) and
// one real standby container from the same rootfs, and the daemon between
// them: seed, replicate, copy files, back up, promote, reverse, resume, and
// the faults (missing path, refused key, broken replication, a primary killed
// mid-copy), in the order a service lives through them.
func TestSyncRealServices(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots a QEMU primary and an LXD standby; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("integration test: needs root")
	}
	ctx := context.Background()
	adminKey, adminPub := testenv.SSHKeyPair(t, "testenv-admin")
	syncKey, syncPub := testenv.SSHKeyPair(t, "vcr-sync")
	strangerKey, _ := testenv.SSHKeyPair(t, "not-authorized")

	lv := testenv.Libvirt(t)
	lxd := testenv.StartLXD(t, testenv.LXDOptions{Name: "standby", NoImage: true})
	bootStart := time.Now()
	vm := lv.StartServiceVM(t, testenv.ServiceVMOptions{AuthorizedKeys: []string{adminPub, syncPub}})
	t.Logf("timing: primary VM booted to Apache+MariaDB+sshd in %s", time.Since(bootStart).Round(100*time.Millisecond))
	ctStart := time.Now()
	ct := lxd.LaunchServiceContainer(t, testenv.ServiceContainerOptions{AuthorizedKeys: []string{adminPub, syncPub}, ReplicationSource: vm.MySQLAddr()})
	t.Logf("timing: standby container (image import included) ready in %s", time.Since(ctStart).Round(100*time.Millisecond))

	admin := func(t *testing.T, host, cmd string) string {
		t.Helper()
		out, err := testenv.SSHRun(host, adminKey, cmd)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	admin(t, vm.Address, `mariadb -e "CREATE USER vcrsync@'%' IDENTIFIED BY '`+syncPassword+`'; GRANT ALL ON *.* TO vcrsync@'%';
		CREATE USER vcrrepl@'%' IDENTIFIED BY '`+replPassword+`'; GRANT REPLICATION SLAVE ON *.* TO vcrrepl@'%';
		CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(64))"
		echo v1 > /var/www/html/index.html`)

	dir := t.TempDir()
	backups := filepath.Join(dir, "backups")
	cfg := writeConfig(t, dir, syncKey, fmt.Sprintf(`
- name: shop
  rpo: 30s
  primary: {ssh: %q, mysql: %q, mysql_from_peer: %q}
  standby: {ssh: %q, mysql: %q, mysql_from_peer: %q}
  database: {replicate: true}
  sync: {paths: [/var/www/html], interval: 10s, bwlimit_kib: 2048}
  backup: {dir: %q, interval: 10s, database: true}
`, vm.SSHAddr(), vm.MySQLAddr(), testenv.ReplicationSourceInside, ct.SSHAddr(), ct.MySQLAddr(), ct.MySQLForVMs, backups))
	d := datasync.New(cfg, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	primaryDB, standbyDB := openDB(t, vm.MySQLAddr()), openDB(t, ct.MySQLAddr())

	t.Run("seed and replicate", func(t *testing.T) {
		start := time.Now()
		if _, err := d.Sync(ctx, "shop", datasync.KindDatabase); err != nil {
			t.Fatalf("first database sync (seeds the standby): %v", err)
		}
		t.Logf("timing: seeding the standby and starting replication took %s", time.Since(start).Round(10*time.Millisecond))
		for i := 1; i <= 20; i++ {
			mustExec(t, primaryDB, "INSERT INTO shop.orders VALUES (?, 'before failover')", i)
		}
		start = time.Now()
		waitRows(t, standbyDB, 20)
		t.Logf("timing: 20 rows committed on the primary visible on the replica after %s", time.Since(start).Round(10*time.Millisecond))
		if _, err := d.Sync(ctx, "shop", datasync.KindDatabase); err != nil {
			t.Fatalf("database sync: %v", err)
		}
		lag := scrape(t, srv.URL, `vcr_sync_replica_lag_seconds{service="shop"}`)
		if lag < 0 || lag > 10 {
			t.Errorf("replica lag %.2f s, want a few seconds at most", lag)
		}
		if ts := scrape(t, srv.URL, `vcr_sync_last_success_timestamp_seconds{kind="database",service="shop"}`); time.Since(time.Unix(int64(ts), 0)) > 10*time.Second {
			t.Errorf("database last success %v, want within 10 s", time.Unix(int64(ts), 0))
		}
		var ro int
		if err := standbyDB.QueryRow("SELECT @@read_only").Scan(&ro); err != nil || ro != 1 {
			t.Errorf("replica read_only = %d (%v), want 1", ro, err)
		}
	})

	t.Run("files", func(t *testing.T) {
		admin(t, vm.Address, "echo v2 > /var/www/html/index.html && mkdir -p /var/www/html/img && echo logo > /var/www/html/img/logo.txt")
		start := time.Now()
		if _, err := d.Sync(ctx, "shop", datasync.KindFiles); err != nil {
			t.Fatalf("files sync: %v", err)
		}
		t.Logf("timing: files sync (pull + push) took %s", time.Since(start).Round(10*time.Millisecond))
		if got := httpGet(t, "http://"+ct.HTTPAddr()+"/"); got != "v2\n" {
			t.Errorf("standby's Apache serves %q, want the primary's page v2", got)
		}
		if got := admin(t, ct.Address, "cat /var/www/html/img/logo.txt"); got != "logo\n" {
			t.Errorf("standby img/logo.txt = %q", got)
		}
		if b := scrape(t, srv.URL, `vcr_sync_transferred_bytes_total{kind="files",service="shop"}`); b <= 0 {
			t.Errorf("vcr_sync_transferred_bytes_total = %v, want > 0", b)
		}
	})

	t.Run("cold backup", func(t *testing.T) {
		if _, err := d.Sync(ctx, "shop", datasync.KindBackup); err != nil {
			t.Fatalf("backup: %v", err)
		}
		store, err := backupstore.Open(backups)
		if err != nil {
			t.Fatal(err)
		}
		list, err := store.List("shop")
		if err != nil || len(list) != 1 {
			t.Fatalf("backupstore lists %v (%v), want one backup", list, err)
		}
		if err := store.Verify(list[0]); err != nil {
			t.Fatalf("verify: %v", err)
		}
		files := tarContents(t, list[0].Path)
		var m datasync.Manifest
		if err := json.Unmarshal([]byte(files["vcr-sync/manifest.json"]), &m); err != nil || m.Format != datasync.BackupFormat || m.Service != "shop" {
			t.Errorf("manifest %+v (%v)", m, err)
		}
		if !strings.Contains(files["vcr-sync/mariadb.sql"], "INSERT INTO `orders`") || !strings.Contains(files["vcr-sync/mariadb.sql"], "gtid_slave_pos") {
			t.Errorf("the dump lacks the orders rows or its GTID position")
		}
		if files["vcr-sync/files/var/www/html/index.html"] != "v2\n" {
			t.Errorf("backup's index.html = %q, want v2", files["vcr-sync/files/var/www/html/index.html"])
		}
	})

	t.Run("broken replication is named, and reseeding repairs it", func(t *testing.T) {
		// A row written behind replication's back makes the next insert of
		// the same key fail on the replica: its SQL thread stops.
		admin(t, ct.Address, `mariadb -e "SET SESSION sql_log_bin=0; INSERT INTO shop.orders VALUES (100, 'conflict')"`)
		mustExec(t, primaryDB, "INSERT INTO shop.orders VALUES (100, 'primary')")
		var err error
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
			if _, err = d.Sync(ctx, "shop", datasync.KindDatabase); datasync.CauseOf(err) == datasync.CauseReplicationSQL {
				break
			}
		}
		if datasync.CauseOf(err) != datasync.CauseReplicationSQL || !strings.Contains(err.Error(), "Duplicate entry") {
			t.Fatalf("sync with a stopped SQL thread: %v; want cause replication_sql naming the duplicate", err)
		}
		if v := scrape(t, srv.URL, `vcr_sync_replication_running{service="shop",thread="sql"}`); v != 0 {
			t.Errorf("vcr_sync_replication_running{thread=sql} = %v, want 0", v)
		}
		if v := scrape(t, srv.URL, `vcr_sync_failing{cause="replication_sql",kind="database",service="shop"}`); v != 1 {
			t.Errorf("vcr_sync_failing{cause=replication_sql} = %v, want 1", v)
		}
		post(t, srv.URL+"/api/v1/services/shop/reseed", http.StatusOK)
		waitRows(t, standbyDB, 21)
		if _, err := d.Sync(ctx, "shop", datasync.KindDatabase); err != nil {
			t.Fatalf("after reseed: %v", err)
		}
		if v := scrape(t, srv.URL, `vcr_sync_failing{cause="replication_sql",kind="database",service="shop"}`); v != -1 {
			t.Errorf("vcr_sync_failing still set after a success (%v)", v)
		}
	})

	t.Run("bad input: missing path and refused key", func(t *testing.T) {
		bad := writeConfig(t, t.TempDir(), syncKey, fmt.Sprintf(`
- name: nopath
  rpo: 30s
  primary: {ssh: %q}
  standby: {ssh: %q}
  sync: {paths: [/srv/not-there]}
`, vm.SSHAddr(), ct.SSHAddr()))
		bad.Services = append(bad.Services, bad.Services[0])
		bad.Services[1].Name = "stranger"
		bad.Services[1].Sync.Paths = []string{"/var/www/html"}
		bd := datasync.New(bad, slog.New(slog.NewTextHandler(io.Discard, nil)))
		// The second service's copy uses a key nobody authorized.
		strangerCfg := *bad
		strangerCfg.SSH.KeyFile = strangerKey
		sd := datasync.New(&strangerCfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		bsrv, ssrv := httptest.NewServer(bd.Handler()), httptest.NewServer(sd.Handler())
		defer bsrv.Close()
		defer ssrv.Close()
		_, err := bd.Sync(ctx, "nopath", datasync.KindFiles)
		if datasync.CauseOf(err) != datasync.CauseMissingPath || !strings.Contains(err.Error(), "/srv/not-there") {
			t.Errorf("missing path: %v; want cause missing_path naming /srv/not-there", err)
		}
		if v := scrape(t, bsrv.URL, `vcr_sync_failing{cause="missing_path",kind="files",service="nopath"}`); v != 1 {
			t.Errorf("vcr_sync_failing{cause=missing_path} = %v, want 1", v)
		}
		_, err = sd.Sync(ctx, "stranger", datasync.KindFiles)
		if datasync.CauseOf(err) != datasync.CauseSSHAuth || !strings.Contains(err.Error(), "authorized_keys") {
			t.Errorf("refused key: %v; want cause ssh_auth and the fix", err)
		}
		if v := scrape(t, ssrv.URL, `vcr_sync_errors_total{cause="ssh_auth",kind="files",service="stranger"}`); v != 1 {
			t.Errorf("vcr_sync_errors_total{cause=ssh_auth} = %v, want 1", v)
		}
		if v := scrape(t, ssrv.URL, `vcr_sync_last_success_timestamp_seconds{kind="files",service="stranger"}`); v != 0 {
			t.Errorf("a service that never synced reports last success %v, want 0 (so the RPO alert fires)", v)
		}
	})

	t.Run("promote, reverse, resume", func(t *testing.T) {
		var pr datasync.PromoteResult
		start := time.Now()
		decode(t, post(t, srv.URL+"/api/v1/services/shop/promote", http.StatusOK), &pr)
		if pr.GTID == "" || pr.LagSeconds == nil || pr.FilesAgeSeconds == nil {
			t.Fatalf("promote result %+v: want the GTID reached, the replica's lag and the files' age", pr)
		}
		t.Logf("timing: promote took %s; GTID %s, replica lag %.1f s, files age %.1f s", time.Since(start).Round(time.Millisecond), pr.GTID, *pr.LagSeconds, *pr.FilesAgeSeconds)
		mustExec(t, standbyDB, "INSERT INTO shop.orders VALUES (200, 'written on the promoted standby')")
		admin(t, ct.Address, "echo v3-from-standby > /var/www/html/index.html")
		post(t, srv.URL+"/api/v1/services/shop/promote", http.StatusOK) // again: same answer
		body := post(t, srv.URL+"/api/v1/services/shop/resume", http.StatusConflict)
		if !strings.Contains(body, "promoted") {
			t.Errorf("resume while promoted: %s", body)
		}

		start = time.Now()
		post(t, srv.URL+"/api/v1/services/shop/reverse", http.StatusOK)
		waitRow(t, primaryDB, 200)
		t.Logf("timing: reverse, then the standby's row on the primary, in %s", time.Since(start).Round(10*time.Millisecond))
		if got := httpGet(t, "http://"+vm.HTTPAddr()+"/"); got != "v3-from-standby\n" {
			t.Errorf("primary's page after reverse = %q, want the standby's", got)
		}
		if _, err := d.Sync(ctx, "shop", datasync.KindDatabase); err != nil {
			t.Errorf("database sync in reversed mode (primary follows the standby): %v", err)
		}

		post(t, srv.URL+"/api/v1/services/shop/resume", http.StatusOK)
		mustExec(t, primaryDB, "INSERT INTO shop.orders VALUES (300, 'after failback')")
		waitRow(t, standbyDB, 300)
		if _, err := d.Sync(ctx, "shop", datasync.KindDatabase); err != nil {
			t.Errorf("database sync after resume: %v", err)
		}
	})

	t.Run("a primary killed mid-copy leaves the standby at its last complete copy", func(t *testing.T) {
		if _, err := d.Sync(ctx, "shop", datasync.KindFiles); err != nil {
			t.Fatalf("files sync before the fault: %v", err)
		}
		before := admin(t, ct.Address, "cd /var/www/html && find . -type f | sort | xargs sha256sum")
		// 12 MiB at 2 MiB/s (sync.bwlimit_kib) is a six-second copy: time to
		// kill the primary in the middle of it.
		admin(t, vm.Address, "echo v4 > /var/www/html/index.html && head -c 12M /dev/urandom > /var/www/html/big.bin")
		done := make(chan error, 1)
		go func() { _, err := d.Sync(ctx, "shop", datasync.KindFiles); done <- err }()
		// rsync writes a file being received as .<name>.<random> beside it
		// (--delay-updates then moves it into .~tmp~ until the end).
		partial := filepath.Join(dir, "state", "services", "shop", "mirror-forward", "var", "www", "html", ".big.bin.*")
		var seen []string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && len(seen) == 0; time.Sleep(50 * time.Millisecond) {
			seen, _ = filepath.Glob(partial)
		}
		if len(seen) == 0 {
			t.Fatalf("no partial copy %s appeared", partial)
		}
		killed := time.Now()
		vm.Destroy(t, lv)
		err := <-done
		t.Logf("timing: the interrupted copy ended %s after the primary was destroyed: %v", time.Since(killed).Round(10*time.Millisecond), err)
		if c := datasync.CauseOf(err); c != datasync.CauseInterrupted && c != datasync.CauseUnreachable {
			t.Fatalf("sync interrupted by the primary's death: %v; want cause interrupted", err)
		}
		if after := admin(t, ct.Address, "cd /var/www/html && find . -type f | sort | xargs sha256sum"); after != before {
			t.Errorf("standby changed by an interrupted copy:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if got := httpGet(t, "http://"+ct.HTTPAddr()+"/"); got != "v3-from-standby\n" {
			t.Errorf("standby serves %q, want the last complete copy", got)
		}
		if v := scrape(t, srv.URL, `vcr_sync_failing{cause="`+string(datasync.CauseOf(err))+`",kind="files",service="shop"}`); v != 1 {
			t.Errorf("vcr_sync_failing after the interrupted copy = %v, want 1", v)
		}
	})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func writeConfig(t *testing.T, dir, key, services string) *datasync.Config {
	t.Helper()
	for name, v := range map[string]string{"sync.pass": syncPassword, "repl.pass": replPassword} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	yml := fmt.Sprintf(`state_dir: %s
ssh: {key_file: %s}
mysql: {user: vcrsync, password_file: %s, replication_user: vcrrepl, replication_password_file: %s}
services:%s`, filepath.Join(dir, "state"), key, filepath.Join(dir, "sync.pass"), filepath.Join(dir, "repl.pass"), services)
	file := filepath.Join(dir, "sync.yml")
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := datasync.LoadConfig(file)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yml)
	}
	return cfg
}

func openDB(t *testing.T, addr string) *sql.DB {
	t.Helper()
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr, mc.Timeout = "vcrsync", syncPassword, "tcp", addr, 5*time.Second
	c, err := mysql.NewConnector(mc)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func waitRows(t *testing.T, db *sql.DB, want int) {
	t.Helper()
	var n int
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err = db.QueryRow("SELECT COUNT(*) FROM shop.orders").Scan(&n); err == nil && n >= want {
			return
		}
	}
	t.Fatalf("replica has %d rows (%v), want %d", n, err, want)
}

func waitRow(t *testing.T, db *sql.DB, id int) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var note string
		if err = db.QueryRow("SELECT note FROM shop.orders WHERE id = ?", id).Scan(&note); err == nil {
			return
		}
	}
	t.Fatalf("row %d never arrived: %v", id, err)
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func post(t *testing.T, url string, want int) string {
	t.Helper()
	resp, err := http.Post(url, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %s: %s; want %d", url, resp.Status, b, want)
	}
	return string(b)
}

func decode(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

// scrape returns the value of the series written exactly as series in the
// exposition, or -1 when it is absent.
func scrape(t *testing.T, base, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(httpGet(t, base+"/metrics"), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return -1
}

// tarContents reads a tar.gz into name -> content (regular files only).
func tarContents(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			out[h.Name] = string(b)
		}
	}
}
