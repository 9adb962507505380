package fastpath

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
)

// An Alertmanager behind TLS with client certificates and basic auth, as
// Alertmanager's own --web.config.file sets it up: the pushes reach it
// only with Prometheus' HTTP client configuration.
func TestFastPathReachesSecuredAlertmanager(t *testing.T) {
	dir := t.TempDir()
	files := exportertest.WriteTLS(t, dir)
	ca, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	got := make(chan string, 10)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "exporter" || p != "s3cret" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		got <- r.TLS.PeerCertificates[0].Subject.CommonName
		w.WriteHeader(http.StatusOK)
	}))
	cert, err := tls.LoadX509KeyPair(files.ServerCert, files.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()

	if err := os.WriteFile(filepath.Join(dir, "password"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "http.yml")
	// Relative names are relative to the file, as in Prometheus.
	if err := os.WriteFile(cfg, []byte(`basic_auth:
  username: exporter
  password_file: password
tls_config:
  ca_file: ca.crt
  cert_file: client.crt
  key_file: client.key
`), 0o600); err != nil {
		t.Fatal(err)
	}
	client, err := NewHTTPClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := startFastPath(t, Options{URLs: []string{srv.URL}, Client: client})
	f.Fire(testEvent, failure.AlertShutoff)
	if cn := <-got; cn != "vcr-exporter" {
		t.Fatalf("client certificate %q", cn)
	}
	host := strings.TrimPrefix(srv.URL, "https://")
	exportertest.WaitFor(t, func() bool { return pushes(f, host, "success") == 1 })

	// Without the configuration the same Alertmanager refuses the push.
	plain := startFastPath(t, Options{URLs: []string{srv.URL}, Attempts: 1})
	plain.Fire(testEvent, failure.AlertShutoff)
	exportertest.WaitFor(t, func() bool { return pushes(plain, host, "failure") == 1 })
}

func TestNewHTTPClientRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown key":     "basic_auth: {username: a, password: b}\nnonsense: 1\n",
		"two credentials": "basic_auth: {username: a, password: b}\nauthorization: {credentials: c}\n",
		"missing ca":      "tls_config: {ca_file: nowhere.crt}\n",
		"not yaml":        "basic_auth: [",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := NewHTTPClient(p); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "--alertmanager.http-config-file") {
			t.Errorf("%s: error %v does not name the flag", name, err)
		}
	}
	if _, err := NewHTTPClient(filepath.Join(dir, "absent.yml")); err == nil {
		t.Error("missing file accepted")
	}
}
