package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Service ports: a service VM or container owns one loopback address and
// answers on the usual ports there, as a real host would.
const (
	HTTPPort  = 80
	MySQLPort = 3306
	SSHPort   = 22
)

var addrsUsed = map[string]bool{}

// ServiceAddress returns a loopback address 127.0.X.Y (X in 160-239) on which
// ports 22, 80 and 3306 were free a moment ago and that this process has not
// handed out before: the address of one service VM or container.
func ServiceAddress(t TB) string {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 200 {
		addr := fmt.Sprintf("127.0.%d.%d", 160+rand.IntN(80), 2+rand.IntN(250))
		if addrsUsed[addr] || !portsFree(addr, SSHPort, HTTPPort, MySQLPort) {
			continue
		}
		addrsUsed[addr] = true
		return addr
	}
	t.Fatalf("testenv: no loopback address with ports 22, 80 and 3306 free after 200 tries")
	return ""
}

func portsFree(addr string, ports ...int) bool {
	for _, p := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort(addr, fmt.Sprint(p)))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

// SSHKeyPair writes a new ed25519 key pair (no passphrase) into a temp dir and
// returns the private key's path and the public key's authorized_keys line.
func SSHKeyPair(t TB, comment string) (private, public string) {
	t.Helper()
	keygen := lookBin(t, "ssh-keygen", "openssh-client")
	dir := t.TempDir()
	private = filepath.Join(dir, "id_ed25519")
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", private).CombinedOutput(); err != nil {
		t.Fatalf("testenv: ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(private + ".pub")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return private, strings.TrimSpace(string(pub))
}

// SSHRun runs a shell command on root@addr (port 22) with the given key,
// accepting the host's key on first use, and returns its combined output.
func SSHRun(addr, key, command string) (string, error) {
	cmd := exec.Command("ssh", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "ConnectTimeout=10", "-p", fmt.Sprint(SSHPort), "root@"+addr, command)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ssh root@%s %q: %w: %s", addr, command, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// waitBanner polls addr until a TCP connection yields a first packet
// containing want (sshd's "SSH-2.0", MariaDB's greeting naming "MariaDB"),
// or fails t after timeout with diag.
func waitBanner(t TB, addr, want string, timeout time.Duration, diag func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if last = banner(addr, want); last == nil {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	msg := ""
	if diag != nil {
		msg = "\n" + diag()
	}
	t.Fatalf("testenv: %s did not greet with %q within %s: %v%s", addr, want, timeout, last, msg)
}

func banner(addr, want string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if !strings.Contains(string(buf[:n]), want) {
		return fmt.Errorf("first bytes %q (read error %v)", buf[:n], err)
	}
	return nil
}
