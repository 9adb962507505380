package main

import (
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
		listen string
		cfg    *config.Config
		web    string
		refuse bool
	}{
		{"127.0.0.1:9478", open, "", false},
		{"[::1]:9478", open, "", false},
		{"localhost:9478", open, "", false},
		{":9478", open, "", true},
		{"0.0.0.0:9478", open, "", true},
		{"192.0.2.5:9478", open, "", true},
		{"receiver.example:9478", open, "", true},
		{":9478", token, "", false},
		{":9478", basic, "", false},
		{":9478", open, mtls, false},
		{":9478", open, users, false},
		{":9478", open, tlsOnly, true},
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
	}
}
