package dnsupdate

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// Integration tests against a real BIND named. They need root (named -u
// root) and are skipped with -short.

func startNamed(t testing.TB, alg string) *testenv.Named {
	t.Helper()
	return testenv.StartNamed(t, testenv.NamedOptions{
		Zone:      "vcr.test.",
		Algorithm: alg,
		Records:   map[string]string{"web.vcr.test.": "127.0.0.5"},
	})
}

func namedClient(t testing.TB, n *testenv.Named, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{Server: n.Addr, KeyName: n.KeyName, Algorithm: n.Algorithm, SecretFile: n.KeyFile}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// dig asks named with the real command-line tool, so the check does not
// depend on our own Lookup.
func dig(t *testing.T, n *testenv.Named, name, qtype string) []string {
	t.Helper()
	host, port, _ := strings.Cut(n.Addr, ":")
	out, err := exec.Command("dig", "@"+host, "-p", port, "+short", "+norecurse", name, qtype).CombinedOutput()
	if err != nil {
		t.Fatalf("dig: %v\n%s", err, out)
	}
	fields := strings.Fields(string(out))
	sort.Strings(fields)
	return fields
}

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test with a real named; skipped with -short")
	}
	if _, err := exec.LookPath("dig"); err != nil {
		t.Skip("dig not installed: run `make deps`")
	}
}

func TestNamedSwitch(t *testing.T) {
	skipShort(t)
	for _, alg := range []string{"hmac-sha256", "hmac-sha512"} {
		t.Run(alg, func(t *testing.T) {
			n := startNamed(t, alg)
			c := namedClient(t, n, nil)
			ctx := context.Background()

			before, err := c.Lookup(ctx, "web.vcr.test.")
			if err != nil || !slices.Equal(before, addrs("127.0.0.5")) {
				t.Fatalf("initial Lookup = %v, %v", before, err)
			}
			if err := c.Replace(ctx, n.Zone, "web.vcr.test.", 5, addrs("127.0.0.2")); err != nil {
				t.Fatalf("Replace: %v", err)
			}
			if got := dig(t, n, "web.vcr.test.", "A"); !slices.Equal(got, []string{"127.0.0.2"}) {
				t.Fatalf("dig A after switch = %v, want [127.0.0.2]", got)
			}
			if got := n.Lookup(t, "web"); !slices.Equal(got, []string{"127.0.0.2"}) {
				t.Fatalf("testenv Lookup after switch = %v, want [127.0.0.2]", got)
			}

			// Switch to a dual-stack set and back: the old family must go.
			if err := c.Replace(ctx, n.Zone, "web.vcr.test.", 5, addrs("fd00::2", "127.0.0.3")); err != nil {
				t.Fatalf("Replace dual-stack: %v", err)
			}
			if got := dig(t, n, "web.vcr.test.", "AAAA"); !slices.Equal(got, []string{"fd00::2"}) {
				t.Fatalf("dig AAAA = %v", got)
			}
			if err := c.Replace(ctx, n.Zone, "web.vcr.test.", 5, addrs("127.0.0.4")); err != nil {
				t.Fatalf("Replace back: %v", err)
			}
			if got := dig(t, n, "web.vcr.test.", "AAAA"); len(got) != 0 {
				t.Fatalf("stale AAAA left: %v", got)
			}
			got, err := c.Lookup(ctx, "web.vcr.test.")
			if err != nil || !slices.Equal(got, addrs("127.0.0.4")) {
				t.Fatalf("Lookup = %v, %v", got, err)
			}
		})
	}
}

func TestNamedWrongKeyChangesNothing(t *testing.T) {
	skipShort(t)
	n := startNamed(t, "hmac-sha256")
	wrongSecret := base64.StdEncoding.EncodeToString([]byte("definitely-not-the-right-secret!"))
	tests := []struct {
		name string
		mod  func(*Config)
		want error
	}{
		{"wrong secret", func(c *Config) { c.SecretFile, c.Secret = "", wrongSecret }, ErrBadKey},
		{"unknown key name", func(c *Config) { c.KeyName = "nobody." }, ErrBadKey},
		{"wrong algorithm", func(c *Config) { c.Algorithm = "hmac-sha512" }, ErrBadKey},
		{"clock skew", nil, ErrBadTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := namedClient(t, n, tt.mod)
			if tt.want == ErrBadTime {
				c.now = func() time.Time { return time.Now().Add(-time.Hour) }
			}
			err := c.Replace(context.Background(), n.Zone, "web.vcr.test.", 5, addrs("127.0.0.66"))
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want errors.Is %v", err, tt.want)
			}
			t.Logf("error as the operator sees it: %v", err)
			if got := dig(t, n, "web.vcr.test.", "A"); !slices.Equal(got, []string{"127.0.0.5"}) {
				t.Fatalf("record changed by a rejected update: %v", got)
			}
			if got := n.Lookup(t, "web"); !slices.Equal(got, []string{"127.0.0.5"}) {
				t.Fatalf("testenv Lookup after a rejected update = %v", got)
			}
		})
	}
}

func TestNamedLargeRRsetOverTCP(t *testing.T) {
	skipShort(t)
	n := startNamed(t, "hmac-sha256")
	c := namedClient(t, n, nil)
	var many []netip.Addr
	var want []string
	for i := 1; i <= 40; i++ {
		a := netip.MustParseAddr(fmt.Sprintf("fd00::%x", i))
		many = append(many, a)
		want = append(want, a.String())
	}
	sort.Strings(want)
	tm, err := c.ReplaceTimed(context.Background(), n.Zone, "big.vcr.test.", 5, many)
	if err != nil {
		t.Fatalf("Replace: %v", err)
	}
	if tm.Transport != "tcp" {
		t.Fatalf("transport %q, want tcp for a message over 512 bytes", tm.Transport)
	}
	if got := dig(t, n, "big.vcr.test.", "AAAA"); !slices.Equal(got, want) {
		t.Fatalf("dig AAAA = %d records, want 40", len(got))
	}
}

func TestNamedNotAuthoritative(t *testing.T) {
	skipShort(t)
	n := startNamed(t, "hmac-sha256")
	c := namedClient(t, n, nil)
	err := c.Replace(context.Background(), "elsewhere.test.", "web.elsewhere.test.", 5, addrs("127.0.0.2"))
	if !errors.Is(err, ErrNotAuth) {
		t.Fatalf("got %v, want ErrNotAuth", err)
	}
}

// TestNamedProbe: the signed SOA probe passes with the zone's key and fails
// the way an UPDATE would with a wrong key or a zone the server does not
// serve, changing nothing.
func TestNamedProbe(t *testing.T) {
	skipShort(t)
	n := startNamed(t, "hmac-sha256")
	if err := namedClient(t, n, nil).Probe(context.Background(), n.Zone); err != nil {
		t.Fatalf("Probe with the right key: %v", err)
	}
	wrongSecret := base64.StdEncoding.EncodeToString([]byte("definitely-not-the-right-secret!"))
	for _, tt := range []struct {
		name string
		mod  func(*Config)
		zone string
		want error
		msg  string
	}{
		{"wrong secret", func(c *Config) { c.SecretFile, c.Secret = "", wrongSecret }, n.Zone, ErrBadKey, "NOTAUTH (TSIG BADSIG): check the TSIG key name and secret"},
		{"unknown key name", func(c *Config) { c.KeyName = "nobody." }, n.Zone, ErrBadKey, "TSIG BADKEY"},
		{"zone not served", nil, "elsewhere.test.", ErrRefused, "dns probe of elsewhere.test. SOA at " + n.Addr + " (udp): REFUSED: check that " + n.Addr + " serves the zone"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := namedClient(t, n, tt.mod).Probe(context.Background(), tt.zone)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.msg) || !IsPermanent(err) {
				t.Fatalf("Probe = %v, want a permanent error like %v containing %q", err, tt.want, tt.msg)
			}
			t.Logf("as the operator sees it: %v", err)
		})
	}
}
