package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"

	"github.com/prometheus/exporter-toolkit/web"
	"gopkg.in/yaml.v3"

	"github.com/vcrcovery/vcrcovery/receiver/config"
)

// exposedWithoutAuth says why the receiver must not start: one of the
// addresses it listens on is reachable beyond loopback and nothing
// authenticates callers, so anyone who reaches the port could fail services
// over. Auth is the config's bearer token or basic auth, or the web config's
// basic_auth_users or verified client certificates. An empty answer means it
// may start.
func exposedWithoutAuth(listening []string, cfg *config.Config, webConfigFile string) (string, error) {
	listen := ""
	for _, l := range listening {
		if beyondLoopback(l) {
			listen = l
			break
		}
	}
	if listen == "" || cfg.BearerToken != "" || cfg.Web.Auth.BasicAuth != nil {
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
	return fmt.Sprintf("listen address %s is reachable beyond loopback and no auth is configured, so anyone who reaches it could fail services over: "+
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

// listenAddresses are the addresses the receiver will listen on: every
// --web.listen-address, or with --web.systemd-socket those of the sockets
// systemd passed.
func listenAddresses(fc *web.FlagConfig) ([]string, error) {
	if !*fc.WebSystemdSocket {
		return *fc.WebListenAddresses, nil
	}
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return nil, nil // exporter-toolkit refuses to start without sockets
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 1 {
		return nil, nil
	}
	fds := make([]int, n)
	for i := range fds {
		fds[i] = 3 + i // SD_LISTEN_FDS_START
	}
	return socketAddresses(fds)
}

// socketAddresses reads the local address of each socket without taking it
// over: exporter-toolkit takes systemd's sockets when it starts serving. A
// unix socket is left out, since only this host reaches it; a socket of
// another family is named so that beyondLoopback counts it as exposed.
func socketAddresses(fds []int) ([]string, error) {
	var addrs []string
	for _, fd := range fds {
		sa, err := syscall.Getsockname(fd)
		if err != nil {
			return nil, fmt.Errorf("--web.systemd-socket: socket %d: %w", fd, err)
		}
		switch a := sa.(type) {
		case *syscall.SockaddrInet4:
			addrs = append(addrs, netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String())
		case *syscall.SockaddrInet6:
			addrs = append(addrs, netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String())
		case *syscall.SockaddrUnix:
		default:
			addrs = append(addrs, fmt.Sprintf("systemd socket %d (%T)", fd, sa))
		}
	}
	return addrs, nil
}
