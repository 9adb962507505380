package dnsupdate

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const (
	testZone   = "vcr.test."
	testKey    = "vcr-key."
	testSecret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==" // "secret-secret-secret-secret-32b"
)

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

func newClient(t *testing.T, server string, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{Server: server, KeyName: testKey, Secret: testSecret, Timeout: time.Second}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func TestNewValidates(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("  "+testSecret+"\n\n"), 0o600)
	bindKey := filepath.Join(dir, "bind.key")
	os.WriteFile(bindKey, []byte("key \"vcr-key\" {\n\talgorithm hmac-sha256;\n\tsecret \""+testSecret+"\";\n};\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)

	good := Config{Server: "127.0.0.1:5353", KeyName: "vcr-key", Secret: testSecret}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string // empty: valid
		check   func(*testing.T, *Client)
	}{
		{"defaults", nil, "", func(t *testing.T, c *Client) {
			if c.algorithm != dns.HmacSHA256 || c.timeout != DefaultTimeout || c.fudge != 300 || c.keyName != "vcr-key." {
				t.Errorf("defaults not applied: %+v", c)
			}
		}},
		{"port 53 by default", func(c *Config) { c.Server = "127.0.0.1" }, "", func(t *testing.T, c *Client) {
			if c.Server() != "127.0.0.1:53" {
				t.Errorf("server %q", c.Server())
			}
		}},
		{"ipv6 without port", func(c *Config) { c.Server = "::1" }, "", func(t *testing.T, c *Client) {
			if c.Server() != "[::1]:53" {
				t.Errorf("server %q", c.Server())
			}
		}},
		{"sha512", func(c *Config) { c.Algorithm = "HMAC-SHA512." }, "", func(t *testing.T, c *Client) {
			if c.algorithm != dns.HmacSHA512 || c.macSize != 64 {
				t.Errorf("algorithm %q", c.algorithm)
			}
		}},
		{"secret file", func(c *Config) { c.Secret, c.SecretFile = "", plain }, "", func(t *testing.T, c *Client) {
			if c.secret != testSecret {
				t.Errorf("secret %q", c.secret)
			}
		}},
		{"bind key file", func(c *Config) { c.Secret, c.SecretFile = "", bindKey }, "", func(t *testing.T, c *Client) {
			if c.secret != testSecret {
				t.Errorf("secret %q", c.secret)
			}
		}},
		{"no server", func(c *Config) { c.Server = "" }, "server is empty", nil},
		{"no key", func(c *Config) { c.KeyName = "" }, "key name is empty", nil},
		{"md5", func(c *Config) { c.Algorithm = "hmac-md5" }, "not supported", nil},
		{"no secret", func(c *Config) { c.Secret = "" }, "is empty", nil},
		{"both secrets", func(c *Config) { c.SecretFile = plain }, "keep only one", nil},
		{"bad base64", func(c *Config) { c.Secret = "not base64!" }, "not valid base64", nil},
		{"missing file", func(c *Config) { c.Secret, c.SecretFile = "", filepath.Join(dir, "nope") }, "check the path", nil},
		{"empty file", func(c *Config) { c.Secret, c.SecretFile = "", empty }, "is empty", nil},
		{"fudge too big", func(c *Config) { c.Fudge = 20 * time.Hour }, "fudge", nil},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "negative timeout", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			if tt.mod != nil {
				tt.mod(&cfg)
			}
			c, err := New(cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestReplaceSwitchesAtomically(t *testing.T) {
	f := startFake(t, testZone, testKey, testSecret)
	f.set(
		&dns.A{Hdr: dns.RR_Header{Name: "web.vcr.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP("127.0.0.5")},
		&dns.AAAA{Hdr: dns.RR_Header{Name: "web.vcr.test.", Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: 60}, AAAA: net.ParseIP("fd00::5")},
		&dns.A{Hdr: dns.RR_Header{Name: "other.vcr.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP("127.0.0.9")},
	)
	c := newClient(t, f.addr, nil)
	ctx := context.Background()

	// Mixed case and an IPv4-mapped address: both must be normalized.
	tm, err := c.ReplaceTimed(ctx, "VCR.test", "Web.vcr.test.", 30, addrs("::ffff:127.0.0.2", "127.0.0.2"))
	if err != nil {
		t.Fatalf("Replace: %v", err)
	}
	if tm.Transport != "udp" || tm.Update <= 0 || tm.Verify <= 0 {
		t.Errorf("timing %+v", tm)
	}
	got, err := c.Lookup(ctx, "web.vcr.test")
	if err != nil || !slices.Equal(got, addrs("127.0.0.2")) {
		t.Fatalf("Lookup = %v, %v; want [127.0.0.2] and the stale AAAA gone", got, err)
	}
	if a := f.get("web.vcr.test.", dns.TypeA); len(a) != 1 || a[0].Header().Ttl != 30 {
		t.Fatalf("stored A RRset %v, want one record with TTL 30", a)
	}
	if other, _ := c.Lookup(ctx, "other.vcr.test."); !slices.Equal(other, addrs("127.0.0.9")) {
		t.Fatalf("unrelated name changed: %v", other)
	}
	if n := len(f.applied()); n != 1 {
		t.Fatalf("server applied %d updates, want exactly 1 message", n)
	}
}

func TestReplaceLargeRRsetUsesTCP(t *testing.T) {
	f := startFake(t, testZone, testKey, testSecret)
	c := newClient(t, f.addr, func(c *Config) { c.Algorithm = "hmac-sha512" })
	var many []netip.Addr
	for i := 1; i <= 40; i++ {
		many = append(many, netip.MustParseAddr(fmt.Sprintf("fd00::%x", i)))
	}
	tm, err := c.ReplaceTimed(context.Background(), testZone, "big.vcr.test.", 60, many)
	if err != nil {
		t.Fatalf("Replace: %v", err)
	}
	if got := f.applied(); !slices.Equal(got, []string{"tcp"}) || tm.Transport != "tcp" {
		t.Fatalf("updates over %v (timing says %q), want one over tcp", got, tm.Transport)
	}
	if got := f.get("big.vcr.test.", dns.TypeAAAA); len(got) != 40 {
		t.Fatalf("stored %d AAAA, want 40", len(got))
	}
}

func TestReplaceTruncatedReplyRetriesOverTCP(t *testing.T) {
	f := startFake(t, testZone, testKey, testSecret)
	f.configure(func(f *fakeServer) { f.truncate = true })
	c := newClient(t, f.addr, nil)
	tm, err := c.ReplaceTimed(context.Background(), testZone, "web.vcr.test.", 60, addrs("127.0.0.3"))
	if err != nil {
		t.Fatalf("Replace: %v", err)
	}
	if got := f.applied(); !slices.Equal(got, []string{"tcp"}) || tm.Transport != "tcp" {
		t.Fatalf("updates over %v, want the retry over tcp", got)
	}
}

func TestReplaceErrors(t *testing.T) {
	skewed := func() time.Time { return time.Now().Add(-time.Hour) }
	tests := []struct {
		name     string
		server   func(*fakeServer)
		cfg      func(*Config)
		clock    func() time.Time
		zoneName [2]string
		addrs    []netip.Addr
		want     error
		tsigErr  uint16
		msg      string
		// permanent: retrying cannot help until a configuration changes.
		permanent bool
	}{
		{name: "wrong secret", cfg: func(c *Config) { c.Secret = base64.StdEncoding.EncodeToString([]byte("wrong")) },
			want: ErrBadKey, tsigErr: dns.RcodeBadSig, msg: "check the TSIG key name and secret", permanent: true},
		{name: "wrong key name", cfg: func(c *Config) { c.KeyName = "other-key." },
			want: ErrBadKey, tsigErr: dns.RcodeBadKey, msg: "NOTAUTH (TSIG BADKEY)", permanent: true},
		{name: "hmac-sha512 accepted", cfg: func(c *Config) { c.Algorithm = "hmac-sha512" }, want: nil},
		{name: "clock skew", clock: skewed, want: ErrBadTime, tsigErr: dns.RcodeBadTime, msg: "clock skew"},
		{name: "refused", server: func(f *fakeServer) { f.refuse = true }, want: ErrRefused, msg: "check update-policy", permanent: true},
		{name: "not authoritative", zoneName: [2]string{"other.test.", "web.other.test."}, want: ErrNotAuth, msg: "not authoritative", permanent: true},
		{name: "name outside zone", zoneName: [2]string{testZone, "web.example.org."}, want: ErrNotZone, msg: "outside the zone", permanent: true},
		{name: "no addresses", addrs: []netip.Addr{}, want: ErrInvalid, msg: "refusing to leave the name without records", permanent: true},
		{name: "update not applied", server: func(f *fakeServer) { f.ignore = true }, want: ErrMismatch, msg: "want [127.0.0.7]"},
		{name: "timeout", server: func(f *fakeServer) { f.hang = true }, cfg: func(c *Config) { c.Timeout = 100 * time.Millisecond },
			want: ErrTimeout, msg: "no answer from 127.0.0.1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, testZone, testKey, testSecret)
			f.set(&dns.A{Hdr: dns.RR_Header{Name: "web.vcr.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP("127.0.0.5")})
			if tt.server != nil {
				f.configure(tt.server)
			}
			c := newClient(t, f.addr, tt.cfg)
			if tt.clock != nil {
				c.now = tt.clock
			}
			zone, name := testZone, "web.vcr.test."
			if tt.zoneName[0] != "" {
				zone, name = tt.zoneName[0], tt.zoneName[1]
			}
			in := addrs("127.0.0.7")
			if tt.addrs != nil {
				in = tt.addrs
			}
			err := c.Replace(context.Background(), zone, name, 60, in)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Replace: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want errors.Is %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %q does not contain %q", err, tt.msg)
			}
			if IsPermanent(err) != tt.permanent {
				t.Fatalf("IsPermanent(%v) = %v, want %v", err, IsPermanent(err), tt.permanent)
			}
			var ue *UpdateError
			if tt.tsigErr != 0 && (!errors.As(err, &ue) || ue.TSIGError != tt.tsigErr || ue.Rcode != dns.RcodeNotAuth) {
				t.Fatalf("want *UpdateError NOTAUTH with TSIG error %d, got %#v", tt.tsigErr, err)
			}
			if tt.want != ErrMismatch && len(f.applied()) != 0 {
				t.Fatalf("a failed update changed the zone: %v", f.applied())
			}
			if tt.want != ErrMismatch && !slices.Equal(lookupA(t, f, "web.vcr.test."), []string{"127.0.0.5"}) {
				t.Fatalf("record changed after a failed update")
			}
		})
	}
}

func lookupA(t *testing.T, f *fakeServer, name string) []string {
	var out []string
	for _, rr := range f.get(name, dns.TypeA) {
		out = append(out, rr.(*dns.A).A.String())
	}
	return out
}

func TestUnreachableServer(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	c := newClient(t, addr, nil)
	err = c.Replace(context.Background(), testZone, "web.vcr.test.", 60, addrs("127.0.0.7"))
	if !errors.Is(err, ErrUnreachable) && !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrUnreachable", err)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Fatalf("error %q does not name the server", err)
	}
}

func TestLookupRequiresAuthority(t *testing.T) {
	// A server answering without AA (a resolver, say) must not be trusted
	// to confirm an update.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	defer srv.Shutdown()
	c := newClient(t, pc.LocalAddr().String(), nil)
	_, err = c.Lookup(context.Background(), "web.vcr.test.")
	if !errors.Is(err, ErrNotAuth) {
		t.Fatalf("got %v, want ErrNotAuth", err)
	}
}

func TestReplaceCancelled(t *testing.T) {
	f := startFake(t, testZone, testKey, testSecret)
	f.configure(func(f *fakeServer) { f.hang = true })
	c := newClient(t, f.addr, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	err := c.Replace(ctx, testZone, "web.vcr.test.", 60, addrs("127.0.0.7"))
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "look the name up before retrying") {
		t.Fatalf("got %v, want context.Canceled with advice", err)
	}
}
