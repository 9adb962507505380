package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/vcrcovery/vcrcovery/receiver/config"
)

// exposedWithoutAuth says why the receiver must not start: it listens
// beyond loopback and nothing authenticates callers, so anyone who reaches
// the port could fail services over. Auth is the config's bearer token or
// basic auth, or the web config's basic_auth_users or verified client
// certificates. An empty answer means it may start.
func exposedWithoutAuth(listen string, cfg *config.Config, webConfigFile string) (string, error) {
	if !beyondLoopback(listen) || cfg.BearerToken != "" || cfg.Web.Auth.BasicAuth != nil {
		return "", nil
	}
	if webConfigFile != "" {
		b, err := os.ReadFile(webConfigFile)
		if err != nil {
			return "", fmt.Errorf("read --web.config.file: %w", err)
		}
		var wc struct {
			TLS struct {
				ClientAuth string `yaml:"client_auth_type"`
			} `yaml:"tls_server_config"`
			Users map[string]string `yaml:"basic_auth_users"`
		}
		if err := yaml.Unmarshal(b, &wc); err != nil {
			return "", fmt.Errorf("--web.config.file %s: %w", webConfigFile, err)
		}
		if len(wc.Users) > 0 || wc.TLS.ClientAuth == "RequireAndVerifyClientCert" {
			return "", nil
		}
	}
	return fmt.Sprintf("--web.listen-address %s is reachable beyond loopback and no auth is configured, so anyone who reaches it could fail services over: "+
		"set web.auth.bearer_token_file or web.auth.basic_auth in the config (or client certificates or basic_auth_users in --web.config.file), "+
		"listen on 127.0.0.1, or start with --web.allow-unauthenticated if something in front authenticates", listen), nil
}

// beyondLoopback says whether a listen address accepts connections from
// other hosts: an empty or unspecified host, or any host that is not a
// loopback address or "localhost".
func beyondLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return true
	}
	if host == "localhost" {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err != nil || !ip.IsLoopback()
}
