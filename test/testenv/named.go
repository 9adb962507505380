package testenv

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// NamedOptions configures StartNamed.
type NamedOptions struct {
	Zone      string            // "vcr.test." by default
	Algorithm string            // "hmac-sha256" (default) or "hmac-sha512"
	Records   map[string]string // relative or absolute name -> IPv4: initial A records
	TTL       int               // TTL of the initial records (default 5)
}

// Named is a BIND9 authoritative server for one dynamic zone whose update-policy
// grants the TSIG key everything below the zone.
type Named struct {
	Addr      string // 127.0.0.1:<port>, UDP and TCP
	Zone      string // fully qualified, e.g. "vcr.test."
	KeyName   string // fully qualified TSIG key name
	KeySecret string // base64
	KeyFile   string // file holding only the base64 secret
	Algorithm string // "hmac-sha256" or "hmac-sha512"
	Dir       string
	Proc      *Proc
}

// StartNamed starts `named -g` on 127.0.0.1:<free port> with a dynamic zone.
func StartNamed(t TB, opts NamedOptions) *Named {
	t.Helper()
	zone := dns.Fqdn(strings.ToLower(orDefault(opts.Zone, "vcr.test.")))
	alg := orDefault(opts.Algorithm, "hmac-sha256")
	if alg != "hmac-sha256" && alg != "hmac-sha512" {
		t.Fatalf("testenv: StartNamed: unsupported TSIG algorithm %q: use hmac-sha256 or hmac-sha512", alg)
	}
	ttl := opts.TTL
	if ttl == 0 {
		ttl = 5
	}
	secretLen := 32
	if alg == "hmac-sha512" {
		secretLen = 64
	}
	raw := make([]byte, secretLen)
	_, _ = rand.Read(raw)
	n := &Named{
		Zone:      zone,
		KeyName:   "vcr-" + safeName(t.Name(), 20) + "-key.",
		KeySecret: base64.StdEncoding.EncodeToString(raw),
		Algorithm: alg,
		Dir:       t.TempDir(),
	}
	n.KeyFile = filepath.Join(n.Dir, "tsig.secret")
	port := FreePort(t)
	n.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	var zf strings.Builder
	fmt.Fprintf(&zf, "$ORIGIN %s\n$TTL %d\n", zone, ttl)
	fmt.Fprintf(&zf, "@ IN SOA ns.%s hostmaster.%s 1 60 30 600 1\n", zone, zone)
	fmt.Fprintf(&zf, "@ IN NS ns.%s\nns IN A 127.0.0.1\n", zone)
	names := make([]string, 0, len(opts.Records))
	for k := range opts.Records {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if net.ParseIP(opts.Records[k]).To4() == nil {
			t.Fatalf("testenv: StartNamed: record %s: %q is not an IPv4 address", k, opts.Records[k])
		}
		fmt.Fprintf(&zf, "%s IN A %s\n", n.abs(k), opts.Records[k])
	}
	conf := fmt.Sprintf(`options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	session-keyfile "%[1]s/session.key";
	managed-keys-directory "%[1]s";
	listen-on port %[2]d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
};
controls { };
key "%[3]s" {
	algorithm %[4]s;
	secret "%[5]s";
};
zone "%[6]s" {
	type primary;
	file "%[1]s/zone.db";
	update-policy { grant %[3]s zonesub ANY; };
};
`, n.Dir, port, n.KeyName, alg, n.KeySecret, strings.TrimSuffix(zone, "."))
	for f, body := range map[string]string{"named.conf": conf, "zone.db": zf.String(), "tsig.secret": n.KeySecret + "\n"} {
		if err := os.WriteFile(filepath.Join(n.Dir, f), []byte(body), 0o600); err != nil {
			t.Fatalf("testenv: write %s: %v", f, err)
		}
	}
	n.Proc = startProc(t, procSpec{name: "named", bin: "named", pkg: "bind9", dir: n.Dir,
		log:  filepath.Join(n.Dir, "named.log"),
		args: []string{"-g", "-4", "-n", "1", "-u", "root", "-c", filepath.Join(n.Dir, "named.conf")}})
	n.Proc.waitReady(t, 30*time.Second, func() error {
		c := &dns.Client{Timeout: 500 * time.Millisecond}
		m := new(dns.Msg)
		m.SetQuestion(zone, dns.TypeSOA)
		r, _, err := c.Exchange(m, n.Addr)
		if err != nil {
			return err
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			return fmt.Errorf("SOA %s: %s", zone, dns.RcodeToString[r.Rcode])
		}
		return nil
	})
	return n
}

func (n *Named) abs(name string) string {
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "." + n.Zone
}

// Lookup returns the A records of name (relative to the zone unless it ends in
// "."), sorted; none if the name does not exist.
func (n *Named) Lookup(t TB, name string) []string {
	t.Helper()
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(n.abs(name), dns.TypeA)
	r, _, err := c.Exchange(m, n.Addr)
	if err != nil {
		t.Fatalf("testenv: look up %s at %s: %v", n.abs(name), n.Addr, err)
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		t.Fatalf("testenv: look up %s at %s: %s", n.abs(name), n.Addr, dns.RcodeToString[r.Rcode])
	}
	var ips []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			ips = append(ips, a.A.String())
		}
	}
	sort.Strings(ips)
	return ips
}

// TSIG returns the key in the form miekg/dns clients want: name -> secret.
func (n *Named) TSIG() map[string]string { return map[string]string{n.KeyName: n.KeySecret} }

// NsupdateKey is the -y argument for nsupdate: "alg:name:secret".
func (n *Named) NsupdateKey() string {
	return n.Algorithm + ":" + n.KeyName + ":" + n.KeySecret
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
