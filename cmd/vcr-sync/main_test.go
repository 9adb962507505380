package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// config writes a one-service configuration whose primary is a closed port:
// every copy fails with cause unreachable.
func config(t *testing.T, services string) string {
	t.Helper()
	dir := t.TempDir()
	key, _ := testenv.SSHKeyPair(t, "vcr-sync-test")
	file := filepath.Join(dir, "sync.yml")
	yml := fmt.Sprintf("state_dir: %s\nssh: {key_file: %s, connect_timeout: 2s}\nservices:\n%s", filepath.Join(dir, "state"), key, services)
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestCheckConfigNamesTheField(t *testing.T) {
	bin := testenv.Binary(t, "vcr-sync")
	bad := config(t, "  - name: web\n    rpo: 5s\n    primary: {ssh: \"127.0.0.1:1\"}\n    standby: {ssh: \"127.0.0.1:2\"}\n    sync: {paths: [www]}\n")
	out, err := exec.Command(bin, "--config.file", bad, "--check-config").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `services[0].sync.paths[0]: "www" is not absolute`) {
		t.Errorf("bad config: %v\n%s", err, out)
	}
	good := config(t, "  - name: web\n    rpo: 30s\n    primary: {ssh: \"127.0.0.1:1\"}\n    standby: {ssh: \"127.0.0.1:2\"}\n    sync: {paths: [/var/www/html]}\n")
	if out, err := exec.Command(bin, "--config.file", good, "--check-config").CombinedOutput(); err != nil || !strings.Contains(string(out), "is valid: 1 services") {
		t.Errorf("good config: %v\n%s", err, out)
	}
}

// The daemon serves its endpoints, reports a primary it cannot reach as a
// failing copy with its cause, and stops on SIGTERM.
func TestDaemonReportsAnUnreachablePrimary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon")
	}
	bin := testenv.Binary(t, "vcr-sync")
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	second := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	closed := testenv.FreePort(t)
	cfg := config(t, fmt.Sprintf("  - name: web\n    rpo: 30s\n    primary: {ssh: \"127.0.0.1:%d\"}\n    standby: {ssh: \"127.0.0.1:%d\"}\n    sync: {paths: [/var/www/html], interval: 1s}\n", closed, closed))
	p := testenv.StartDaemon(t, testenv.DaemonSpec{Name: "vcr-sync", Path: bin,
		Args:  []string{"--config.file", cfg, "--web.listen-address", addr, "-web.listen-address=" + second},
		Ready: func() error { return testenv.HTTPOK("http://" + addr + "/-/ready") }, ReadyTimeout: 20 * time.Second})
	for _, a := range []string{addr, second} {
		if err := testenv.HTTPOK("http://" + a + "/-/healthy"); err != nil {
			t.Fatal(err)
		}
	}
	want := `vcr_sync_failing{cause="unreachable",kind="files",service="web"} 1`
	var metrics string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		metrics = get(t, "http://"+addr+"/metrics")
		if strings.Contains(metrics, want) {
			break
		}
	}
	for _, line := range []string{want, `vcr_sync_last_success_timestamp_seconds{kind="files",service="web"} 0`, `vcr_sync_rpo_seconds{kind="files",service="web"} 30`, `vcr_sync_mode{mode="forward",service="web"} 1`} {
		if !strings.Contains(metrics, line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	if s := get(t, "http://"+addr+"/api/v1/services/web"); !strings.Contains(s, `"cause":"unreachable"`) || !strings.Contains(s, "check the side is up") {
		t.Errorf("status: %s", s)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !p.Wait(10 * time.Second) {
		t.Fatalf("vcr-sync did not stop within 10 s of SIGTERM:\n%s", p.Tail(20))
	}
	if !p.LogContains("shutting down") {
		t.Errorf("no graceful shutdown in the log:\n%s", p.Tail(20))
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
