package dnsupdate

// Stopgap until test/testenv's StartNamed is committed: start a real BIND
// named for one test, in a temp dir, on a free loopback port. The shape of
// namedServer mirrors testenv.Named so switching is a one-line change.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

type namedServer struct {
	Addr      string
	Zone      string
	KeyName   string
	KeySecret string
	KeyFile   string
	Algorithm string
}

type namedOptions struct {
	Zone      string
	Algorithm string
	Records   map[string]string // owner name -> IPv4 address
}

func startNamedStopgap(t testing.TB, o namedOptions) *namedServer {
	t.Helper()
	if _, err := exec.LookPath("named"); err != nil {
		t.Skip("named not installed: run `make deps`")
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		n, err := tryStartNamed(t, o)
		if err == nil {
			return n
		}
		lastErr = err // most likely lost a race for the port
	}
	t.Fatalf("start named: %v", lastErr)
	return nil
}

func freePort(t testing.TB) int {
	for {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		port := pc.LocalAddr().(*net.UDPAddr).Port
		pc.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
}

func tryStartNamed(t testing.TB, o namedOptions) (*namedServer, error) {
	dir := t.TempDir()
	raw := make([]byte, 32)
	rand.Read(raw)
	n := &namedServer{
		Zone:      dns.CanonicalName(o.Zone),
		KeyName:   "vcr-key.",
		KeySecret: base64.StdEncoding.EncodeToString(raw),
		Algorithm: o.Algorithm,
		KeyFile:   filepath.Join(dir, "vcr-key.key"),
	}
	port := freePort(t)
	n.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	key := fmt.Sprintf("key %q {\n\talgorithm %s;\n\tsecret %q;\n};\n", n.KeyName, n.Algorithm, n.KeySecret)
	if err := os.WriteFile(n.KeyFile, []byte(key), 0o600); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`options {
	directory %[1]q;
	pid-file %[1]q "/named.pid";
	session-keyfile %[1]q "/session.key";
	listen-on port %[2]d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
};
controls { };
include %[3]q;
zone %[4]q {
	type primary;
	file "zone.db";
	update-policy { grant %[5]s zonesub ANY; };
};
`, dir, port, n.KeyFile, n.Zone, n.KeyName)
	conf = strings.ReplaceAll(conf, `" "/`, `/`)
	var zone strings.Builder
	fmt.Fprintf(&zone, "$TTL 60\n@ IN SOA ns.%[1]s admin.%[1]s 1 3600 600 86400 60\n@ IN NS ns.%[1]s\nns IN A 127.0.0.1\n", n.Zone)
	names := make([]string, 0, len(o.Records))
	for name := range o.Records {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(&zone, "%s IN A %s\n", name, o.Records[name])
	}
	confPath := filepath.Join(dir, "named.conf")
	os.WriteFile(confPath, []byte(conf), 0o644)
	os.WriteFile(filepath.Join(dir, "zone.db"), []byte(zone.String()), 0o644)

	logf, err := os.Create(filepath.Join(dir, "named.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("named", "-g", "-n", "1", "-c", confPath, "-u", "root")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
		logf.Close()
	}

	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			logf.Close()
			b, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("named exited during start-up:\n%s", tail(string(b), 2000))
		default:
		}
		m := new(dns.Msg)
		m.SetQuestion(n.Zone, dns.TypeSOA)
		cl := &dns.Client{Timeout: 200 * time.Millisecond}
		if r, _, err := cl.ExchangeContext(context.Background(), m, n.Addr); err == nil && r.Authoritative && len(r.Answer) > 0 {
			break
		}
		if time.Now().After(deadline) {
			stop()
			b, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("named did not answer on %s within 15s:\n%s", n.Addr, tail(string(b), 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("named log:\n%s", tail(string(b), 4000))
		}
	})
	return n, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
