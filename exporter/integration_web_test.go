package exporter

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// --web.config.file turns on basic auth (exporter-toolkit), and SIGTERM
// stops the exporter cleanly.
func TestIntegrationWebConfigAndShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (builds and runs the binary)")
	}
	lv := testenv.Libvirt(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("basic_auth_users:\n  prom: %s\n", hash)), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	get := func(path, user, pass string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	p := testenv.StartDaemon(t, testenv.DaemonSpec{Name: "vcr-exporter-auth", Path: testenv.Binary(t, "vcr-exporter"),
		Args: []string{"--web.listen-address", addr, "--web.config.file", cfg, "--libvirt.uri", "test:///default",
			"--libvirt.socket", lv.Socket, "--host", "auth"},
		Ready: func() error {
			if c := get("/-/ready", "prom", "s3cret"); c != 200 {
				return fmt.Errorf("/-/ready: %d", c)
			}
			return nil
		}})
	if c := get("/metrics", "", ""); c != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want 401", c)
	}
	if c := get("/metrics", "prom", "wrong"); c != http.StatusUnauthorized {
		t.Errorf("wrong password: %d, want 401", c)
	}
	if c := get("/metrics", "prom", "s3cret"); c != 200 {
		t.Errorf("right password: %d, want 200", c)
	}
	if c := get("/", "prom", "s3cret"); c != 200 {
		t.Errorf("landing page: %d, want 200", c)
	}

	start := time.Now()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !p.Wait(10 * time.Second) {
		t.Fatalf("still running 10s after SIGTERM:\n%s", p.Tail(20))
	}
	t.Logf("stopped %v after SIGTERM", time.Since(start))
	if !p.LogContains("shutting down") {
		t.Errorf("no graceful shutdown in the log:\n%s", p.Tail(20))
	}
}
