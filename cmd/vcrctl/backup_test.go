package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/backupstore"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// writeConfig writes a receiver config with one cold service using the LXD
// remote "standby" and returns its path.
func writeConfig(t *testing.T, backupDir, remote string) string {
	t.Helper()
	dir := t.TempDir()
	secret := filepath.Join(dir, "tsig.secret")
	if err := os.WriteFile(secret, []byte("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`dns_servers:
  - {name: main, address: "127.0.0.1:5353", key_name: k., secret_file: %s}
lxd_remotes:
  standby: %s
backup_dir: %s
services:
  - name: web
    primary: {domain: web01, address: 127.0.0.10, port: 8080}
    strategy: {name: cold, settings: {remote: standby, keep: 2}}
    dns: {name: web.example.test., zone: example.test.}
  - name: api
    primary: {domain: api01, address: 127.0.0.11, port: 8080}
    strategy: {name: scaleup, settings: {source: standby, target: bigger}}
    dns: {name: api.example.test., zone: example.test.}
`, secret, remote, backupDir)
	file := filepath.Join(dir, "receiver.yml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestCheckConfig(t *testing.T) {
	file := writeConfig(t, t.TempDir(), "{socket: /nonexistent/unix.socket, address: 127.0.0.2}")
	out, errOut, code := vcrctl(t, "check-config", file)
	if code != 0 || !strings.Contains(out, "OK (2 services, 1 DNS servers, 1 LXD remotes)") {
		t.Errorf("valid config: exit %d, %q %q", code, out, errOut)
	}
	bad := filepath.Join(t.TempDir(), "bad.yml")
	os.WriteFile(bad, []byte("services:\n  - name: web\n    dns: {name: web.example.test, zone: example.test.}\n"), 0o600)
	_, errOut, code = vcrctl(t, "check-config", bad)
	if code != 1 || !strings.Contains(errOut, "services[0].dns.name") {
		t.Errorf("invalid config: exit %d, stderr %q; want the path services[0].dns.name", code, errOut)
	}
	_, errOut, code = vcrctl(t, "--config.file", "/nonexistent.yml", "check-config")
	if code != 1 || !strings.Contains(errOut, "check --config.file") {
		t.Errorf("missing config: exit %d, stderr %q", code, errOut)
	}
}

func TestBackupListAndPrune(t *testing.T) {
	store := t.TempDir()
	file := writeConfig(t, store, "{socket: /nonexistent/unix.socket, address: 127.0.0.2}")
	st, err := backupstore.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := st.Create(context.Background(), "web", func(_ context.Context, w io.Writer) error {
			_, err := fmt.Fprintf(w, "tarball %d", i)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	out, errOut, code := vcrctl(t, "--config.file", file, "backup", "list", "web")
	if code != 0 || strings.Count(out, ".tar.gz") != 3 || !strings.Contains(out, "sha256") {
		t.Fatalf("list: exit %d\n%s%s", code, out, errOut)
	}
	// Retention from the service's settings (keep: 2).
	out, errOut, code = vcrctl(t, "--config.file", file, "backup", "prune", "web")
	if code != 0 || strings.Count(out, "Pruned") != 1 {
		t.Fatalf("prune: exit %d\n%s%s", code, out, errOut)
	}
	out, _, _ = vcrctl(t, "--config.file", file, "backup", "prune", "web", "--keep", "1", "-o", "json")
	var pruned []backupOut
	if err := json.Unmarshal([]byte(out), &pruned); err != nil || len(pruned) != 1 {
		t.Fatalf("prune --keep 1 -o json: %v %s", err, out)
	}
	left, _ := st.List("web")
	if len(left) != 1 || left[0].Path == pruned[0].Path {
		t.Errorf("after pruning to 1: %v", left)
	}
	for _, tt := range []struct{ args, want string }{
		{"backup list nope", `no service "nope"`},
		{"backup list api", "service api (strategy scaleup) has no usable backup settings"},
		{"backup prune web --keep 0", "keep at least 1 backup"},
	} {
		_, errOut, code := vcrctl(t, append([]string{"--config.file", file}, strings.Fields(tt.args)...)...)
		if code == 0 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%s: exit %d, stderr %q, want %q", tt.args, code, errOut, tt.want)
		}
	}
}

// TestBackupCreateFromRealLXD exports a running container from a real LXD
// daemon through vcrctl, twice, and checks retention and the tarball.
func TestBackupCreateFromRealLXD(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real LXD daemon; skipped with -short")
	}
	x := testenv.StartLXD(t, testenv.LXDOptions{Name: "standby", Address: "127.0.0.2"})
	x.LaunchService(t, "web", testenv.FreePort(t))
	store := t.TempDir()
	file := writeConfig(t, store, fmt.Sprintf("{socket: %s, address: 127.0.0.2}", x.Socket))

	for i := range 3 {
		out, errOut, code := vcrctl(t, "--config.file", file, "backup", "create", "web")
		if code != 0 || !strings.HasPrefix(out, "Created "+filepath.Join(store, "web")) {
			t.Fatalf("create #%d: exit %d\n%s%s", i+1, code, out, errOut)
		}
		if i == 2 && !strings.Contains(out, "Pruned") {
			t.Errorf("third create should prune to keep: 2:\n%s", out)
		}
	}
	st, _ := backupstore.Open(store)
	bs, err := st.List("web")
	if err != nil || len(bs) != 2 {
		t.Fatalf("backups after three creates with keep 2: %v %v", bs, err)
	}
	if err := st.Verify(bs[0]); err != nil || bs[0].Size < 100_000 {
		t.Errorf("newest backup %s (%d bytes) does not verify: %v", bs[0].Name(), bs[0].Size, err)
	}
}
