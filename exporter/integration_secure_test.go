package exporter

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/exporter/fastpath"
	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// A real Alertmanager behind TLS, client certificates and basic auth (its own --web.config.file):
// the exporter binary reaches it with --alertmanager.http-config-file, and a destroyed domain's
// fast-path alert arrives; the same exporter without the file is refused.
func TestIntegrationSecuredAlertmanager(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (needs libvirtd and Alertmanager)")
	}
	lv := testenv.Libvirt(t)
	td := lv.TestDriver(t)
	dir := t.TempDir()
	tlsFiles := exportertest.WriteTLS(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	webConfig := write("am-web.yml", fmt.Sprintf(`tls_server_config:
  cert_file: %s
  key_file: %s
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: %s
basic_auth_users:
  exporter: %s
`, tlsFiles.ServerCert, tlsFiles.ServerKey, tlsFiles.CA, hash))
	httpConfig := write("am-http.yml", fmt.Sprintf(`basic_auth:
  username: exporter
  password: s3cret
tls_config:
  ca_file: %s
  cert_file: %s
  key_file: %s
`, tlsFiles.CA, tlsFiles.ClientCert, tlsFiles.ClientKey))
	amCfg := write("alertmanager.yml", "route:\n  receiver: none\n  group_wait: 0s\nreceivers:\n  - name: none\n")
	port := testenv.FreePort(t)
	amURL := "https://127.0.0.1:" + strconv.Itoa(port)
	client, err := fastpath.NewHTTPClient(httpConfig)
	if err != nil {
		t.Fatal(err)
	}
	amBin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		t.Fatal("prometheus-alertmanager not found: run make deps")
	}
	am := testenv.StartDaemon(t, testenv.DaemonSpec{
		Name: "alertmanager-tls", Path: amBin,
		Args: []string{"--config.file=" + amCfg, "--storage.path=" + filepath.Join(dir, "am-data"), "--cluster.listen-address=",
			"--web.listen-address=127.0.0.1:" + strconv.Itoa(port), "--web.config.file=" + webConfig},
		Ready: func() error {
			resp, err := client.Get(amURL + "/-/ready")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("/-/ready: %s", resp.Status)
			}
			return nil
		},
	})
	alerts := func() []testenv.AlertSummary {
		resp, err := client.Get(amURL + "/api/v2/alerts")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out []testenv.AlertSummary
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}

	host := testenv.UniqueName(t, "hv-")
	secured := startExporter(t, lv, td.URI, "--alertmanager.url", amURL, "--alertmanager.http-config-file", httpConfig,
		"--host", host, "--cloud", "itest")
	plain := startExporter(t, lv, td.URI, "--alertmanager.url", amURL, "--host", host+"-plain", "--cloud", "itest",
		"--alertmanager.attempts", "1")
	uuid, name := td.DefineNamed(t, "")
	eventually(t, 10*time.Second, name+" running", metricIs(t, secured, "vcr_domain_state", map[string]string{"domain": name}, 1))
	eventually(t, 10*time.Second, name+" running (plain)", metricIs(t, plain, "vcr_domain_state", map[string]string{"domain": name}, 1))
	td.Destroy(t, name)

	want := map[string]string{"alertname": failure.AlertShutoff, "domain": name, "uuid": uuid, "host": host, "cloud": "itest"}
	eventually(t, 10*time.Second, "fast-path alert in the secured Alertmanager", func() string {
		if findAlert(alerts(), want) == nil {
			return fmt.Sprintf("no %v; Alertmanager log:\n%s", want, am.Tail(10))
		}
		return ""
	})
	amHost := strings.TrimPrefix(amURL, "https://")
	// At least: other test processes share the test driver, and their domains' alerts count too.
	eventually(t, 10*time.Second, "the plain exporter is refused", func() string {
		s, err := plain.scrape(t)
		if err != nil {
			return err.Error()
		}
		if v, _ := s.Get("vcr_alertmanager_pushes_total", map[string]string{"alertmanager": amHost, "result": "failure"}); v < 1 {
			return fmt.Sprintf("failed pushes = %v, want >= 1", v)
		}
		return ""
	})
	if a := findAlert(alerts(), map[string]string{"host": host + "-plain"}); a != nil {
		t.Errorf("an exporter without client certificate and credentials got through: %v", a.Labels)
	}
}
