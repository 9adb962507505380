package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// startAlertingReceiver runs the real vcr-receiver as a second webhook of Alertmanager's
// vcr-receiver route, with the same token file as Alertmanager's credentials_file. Its one
// service matches none of the test's domains, hosts or clouds, so it journals every alert
// without starting a recovery: the test checks delivery and authentication against the real
// daemon and gives the recovery dashboard's receiver panels data, while the webhook listener
// times the arrivals. (Recoveries themselves are the receiver's own end-to-end tests.)
func startAlertingReceiver(t *testing.T, tokenFile string) (addr string) {
	t.Helper()
	dir := t.TempDir()
	plugins := filepath.Join(dir, "plugins")
	if err := os.Mkdir(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	tsig := filepath.Join(dir, "tsig.secret")
	if err := os.WriteFile(tsig, []byte("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := `web:
  auth:
    bearer_token_file: ` + tokenFile + `
journal:
  path: ` + filepath.Join(dir, "journal.db") + `
plugins:
  dir: ` + plugins + `
dns_servers:
  - name: main
    address: 127.0.0.1:1
    key_name: vcr-key.
    secret_file: ` + tsig + `
    probe_interval: 0s   # nothing answers DNS here: no switch is ever made
services:
  - name: e2e-unmapped
    primary:
      domain: no-such-domain
      host: {name: no-such-host, cloud: no-such-cloud}
      address: 127.0.0.1
      port: 1
    strategy: {name: warm}
    dns: {name: www.e2e.test., zone: e2e.test.}
`
	cfgPath := filepath.Join(dir, "receiver.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	testenv.StartDaemon(t, testenv.DaemonSpec{
		Name: "vcr-receiver", Path: testenv.Binary(t, "vcr-receiver"), Dir: dir,
		Args:  []string{"--config.file=" + cfgPath, "--web.listen-address=" + addr},
		Ready: func() error { return testenv.HTTPOK("http://" + addr + "/-/ready") },
	})
	return addr
}
