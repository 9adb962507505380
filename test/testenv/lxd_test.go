package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func TestTwoLXDDaemonsServeAndTrust(t *testing.T) {
	needRoot(t)
	standby := StartLXD(t, LXDOptions{Name: "standby", Address: "127.0.0.2"})
	bigvm := StartLXD(t, LXDOptions{Name: "bigvm", Address: "127.0.0.3"})
	if standby.URL == bigvm.URL || standby.Dir == bigvm.Dir {
		t.Fatalf("daemons share URL or dir: %s %s", standby.URL, bigvm.URL)
	}
	// The same container name in both daemons, as after a migration.
	port := FreePort(t)
	a := standby.LaunchService(t, "web", port)
	b := bigvm.LaunchService(t, "web", port)
	for _, addr := range []string{a, b} {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("GET %s: %v", addr, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "web\n" {
			t.Fatalf("GET %s = %q, want %q", addr, body, "web\n")
		}
	}
	if !strings.HasPrefix(a, "127.0.0.2:") || !strings.HasPrefix(b, "127.0.0.3:") {
		t.Fatalf("service addresses %s, %s: want 127.0.0.2 and 127.0.0.3", a, b)
	}
	for _, x := range []*LXD{standby, bigvm} {
		if auth := lxdAuth(t, x); auth != "trusted" {
			t.Fatalf("LXD %s over HTTPS with the client cert: auth = %q, want trusted", x.Name, auth)
		}
	}
	start := time.Now()
	bigvm.Lxc(t, "stop", "--force", "web")
	if _, err := http.Get("http://" + b + "/"); err == nil {
		t.Fatalf("GET %s still answers after the container stopped", b)
	}
	t.Logf("force stop took %s", time.Since(start))
}

// lxdAuth returns the "auth" field of GET /1.0 over HTTPS with the client
// certificate, verifying the daemon against ServerCert.
func lxdAuth(t *testing.T, x *LXD) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(x.ClientCert, x.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(x.ServerCert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	// LXD's self-signed certificate names the host, not 127.0.0.1: pin it
	// instead of verifying the name.
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		Certificates:       []tls.Certificate{cert},
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			_, err = leaf.Verify(x509.VerifyOptions{Roots: pool})
			return err
		},
	}}}
	resp, err := c.Get(x.URL + "/1.0")
	if err != nil {
		t.Fatalf("GET %s/1.0: %v", x.URL, err)
	}
	defer resp.Body.Close()
	var v struct {
		Metadata struct {
			Auth string `json:"auth"`
		} `json:"metadata"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v.Metadata.Auth
}
