package receiver_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// TestTLSWebConfig serves the API over TLS through exporter-toolkit's
// --web.config.file.
func TestTLSWebConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	s := newStack(t, stackOpts{prepareSleep: "0", gracePeriod: "0s"})
	s.proc.Stop(t, 10*time.Second)

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vcr-receiver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(s.dir, "tls.crt"), filepath.Join(s.dir, "tls.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	webCfg := filepath.Join(s.dir, "web.yml")
	os.WriteFile(webCfg, []byte("tls_server_config:\n  cert_file: "+certFile+"\n  key_file: "+keyFile+"\n"), 0o600)

	pool := x509.NewCertPool()
	cert, _ := x509.ParseCertificate(der)
	pool.AddCert(cert)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	httpsURL := strings.Replace(s.url, "http://", "https://", 1)
	s.proc = testenv.StartDaemon(t, testenv.DaemonSpec{
		Name: "vcr-receiver-tls", Path: testenv.Binary(t, "vcr-receiver"), Args: append(s.args, "--web.config.file", webCfg),
		Dir: s.dir, Log: filepath.Join(s.dir, "vcr-receiver-tls.log"),
		Ready: func() error {
			resp, err := client.Get(httpsURL + "/-/ready")
			if err != nil {
				return err
			}
			resp.Body.Close()
			return nil
		},
	})
	resp, err := client.Get(httpsURL + "/api/v1/incidents")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated GET over TLS = %d, want 401", resp.StatusCode)
	}
	// Go's TLS server answers plain HTTP with a 400, never the API.
	if resp, err := http.Get(s.url + "/-/healthy"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP still served with TLS configured")
		}
	}
}
