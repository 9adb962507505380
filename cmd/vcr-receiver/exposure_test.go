package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/receiver/config"
)

func TestExposedWithoutAuth(t *testing.T) {
	dir := t.TempDir()
	web := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	mtls := web("mtls.yml", "tls_server_config: {cert_file: c, key_file: k, client_ca_file: ca, client_auth_type: RequireAndVerifyClientCert}\n")
	users := web("users.yml", "basic_auth_users: {am: $2y$10$x}\n")
	tlsOnly := web("tls.yml", "tls_server_config: {cert_file: c, key_file: k}\n")
	open := &config.Config{}
	token := &config.Config{BearerToken: "t"}
	basic := &config.Config{Web: config.Web{Auth: config.Auth{BasicAuth: &config.BasicAuth{Username: "u"}}}}
	for _, tc := range []struct {
		listen []string
		cfg    *config.Config
		web    string
		refuse bool
	}{
		{[]string{"127.0.0.1:9478"}, open, "", false},
		{[]string{"[::1]:9478"}, open, "", false},
		{[]string{"localhost:9478"}, open, "", false},
		{[]string{"127.0.0.1:9478", "[::1]:9478", "localhost:9479"}, open, "", false},
		{nil, open, "", false},
		{[]string{":9478"}, open, "", true},
		{[]string{"0.0.0.0:9478"}, open, "", true},
		{[]string{"192.0.2.5:9478"}, open, "", true},
		{[]string{"receiver.example:9478"}, open, "", true},
		{[]string{"vsock://:9478"}, open, "", true},
		{[]string{"127.0.0.1:9478", "192.0.2.5:9478"}, open, "", true},
		{[]string{"192.0.2.5:9478", "[::1]:9478"}, open, "", true},
		{[]string{":9478"}, token, "", false},
		{[]string{":9478"}, basic, "", false},
		{[]string{":9478"}, open, mtls, false},
		{[]string{"127.0.0.1:9478", ":9479"}, open, users, false},
		{[]string{":9478"}, open, tlsOnly, true},
	} {
		why, err := exposedWithoutAuth(tc.listen, tc.cfg, tc.web)
		if err != nil {
			t.Fatal(err)
		}
		if (why != "") != tc.refuse {
			t.Errorf("listen %s, token %v, basic %v, web %q: refuse = %q, want %v", tc.listen, tc.cfg.BearerToken != "", tc.cfg.Web.Auth.BasicAuth != nil, tc.web, why, tc.refuse)
		}
		if why != "" && !strings.Contains(why, "--web.allow-unauthenticated") {
			t.Errorf("refusal %q does not name the way out", why)
		}
		if why != "" && !strings.Contains(why, "192.0.2.5") && !strings.Contains(why, ":9478") {
			t.Errorf("refusal %q does not name the exposed address", why)
		}
	}
}

// With --web.systemd-socket the check reads the addresses of the sockets
// systemd passed, as the server will listen on them.
func TestSocketAddresses(t *testing.T) {
	var fds []int
	for _, network := range []string{"tcp4", "tcp6"} {
		addr := "127.0.0.1:0"
		if network == "tcp6" {
			addr = "[::1]:0"
		}
		l, err := net.Listen(network, addr)
		if err != nil {
			if network == "tcp6" {
				continue // no IPv6 loopback here
			}
			t.Fatal(err)
		}
		defer l.Close()
		f, err := l.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fds = append(fds, int(f.Fd()))
	}
	unix, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close()
	uf, err := unix.(*net.UnixListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer uf.Close()
	fds = append(fds, int(uf.Fd()))

	addrs, err := socketAddresses(fds)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != len(fds)-1 {
		t.Fatalf("addresses %v of %d sockets, one of them unix", addrs, len(fds))
	}
	for _, a := range addrs {
		if beyondLoopback(a) {
			t.Errorf("%s counted as beyond loopback", a)
		}
	}
	if why, _ := exposedWithoutAuth(addrs, &config.Config{}, ""); why != "" {
		t.Errorf("loopback sockets refused: %s", why)
	}

	wide, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer wide.Close()
	wf, err := wide.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer wf.Close()
	addrs, err = socketAddresses([]int{int(wf.Fd())})
	if err != nil || len(addrs) != 1 || !beyondLoopback(addrs[0]) {
		t.Errorf("wildcard socket: %v %v, want one address beyond loopback", addrs, err)
	}
	if _, err := socketAddresses([]int{-1}); err == nil {
		t.Error("a closed descriptor gave no error")
	}
}
