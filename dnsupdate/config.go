package dnsupdate

import (
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Defaults for zero Config fields.
const (
	DefaultAlgorithm = "hmac-sha256"
	DefaultTimeout   = 2 * time.Second
	DefaultFudge     = 300 * time.Second
)

// Config says which server to update and how to sign. Either Secret or
// SecretFile must be set.
type Config struct {
	Server     string        // "127.0.0.1:5353"; port 53 when omitted
	KeyName    string        // TSIG key name, e.g. "vcr-key."
	Algorithm  string        // "hmac-sha256" (default), "hmac-sha384" or "hmac-sha512"
	Secret     string        // base64 secret
	SecretFile string        // file holding the base64 secret, or a BIND key file
	Timeout    time.Duration // per exchange, default 2s
	Fudge      time.Duration // TSIG fudge (allowed clock skew), default 300s
}

// Client sends updates and lookups to one authoritative server. It is safe
// for concurrent use.
type Client struct {
	server    string
	keyName   string
	algorithm string // canonical, e.g. "hmac-sha256."
	secret    string // base64, as miekg/dns wants it
	macSize   int
	timeout   time.Duration
	fudge     uint16
	now       func() time.Time // TSIG clock; tests skew it to provoke BADTIME
}

var algorithms = map[string]struct {
	name    string
	macSize int
}{
	"hmac-sha256": {dns.HmacSHA256, 32},
	"hmac-sha384": {dns.HmacSHA384, 48},
	"hmac-sha512": {dns.HmacSHA512, 64},
}

// New validates cfg, reads SecretFile if given, and returns a Client. It does
// not contact the server.
func New(cfg Config) (*Client, error) {
	c := &Client{timeout: cfg.Timeout, now: time.Now}

	server := strings.TrimSpace(cfg.Server)
	if server == "" {
		return nil, fmt.Errorf("dnsupdate: server is empty: set it to the authoritative server, e.g. 127.0.0.1:53")
	}
	if _, _, err := net.SplitHostPort(server); err != nil {
		// No port given: RFC 2136 updates go to port 53.
		server = net.JoinHostPort(strings.Trim(server, "[]"), "53")
		if _, _, err := net.SplitHostPort(server); err != nil {
			return nil, fmt.Errorf("dnsupdate: server %q is not host:port: %w", cfg.Server, err)
		}
	}
	c.server = server

	if strings.TrimSpace(cfg.KeyName) == "" {
		return nil, fmt.Errorf("dnsupdate: TSIG key name is empty: set it to the key named in the server's update-policy")
	}
	c.keyName = dns.CanonicalName(strings.TrimSpace(cfg.KeyName))
	if _, ok := dns.IsDomainName(c.keyName); !ok {
		return nil, fmt.Errorf("dnsupdate: TSIG key name %q is not a domain name", cfg.KeyName)
	}

	alg := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(cfg.Algorithm), "."))
	if alg == "" {
		alg = DefaultAlgorithm
	}
	a, ok := algorithms[alg]
	if !ok {
		return nil, fmt.Errorf("dnsupdate: TSIG algorithm %q not supported: use hmac-sha256, hmac-sha384 or hmac-sha512", cfg.Algorithm)
	}
	c.algorithm, c.macSize = a.name, a.macSize

	secret, err := loadSecret(cfg)
	if err != nil {
		return nil, err
	}
	c.secret = secret

	if c.timeout < 0 {
		return nil, fmt.Errorf("dnsupdate: negative timeout %s: use a positive duration or 0 for %s", cfg.Timeout, DefaultTimeout)
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	fudge := cfg.Fudge
	if fudge == 0 {
		fudge = DefaultFudge
	}
	if fudge < time.Second || fudge > 65535*time.Second {
		return nil, fmt.Errorf("dnsupdate: TSIG fudge %s out of range: use 1s to 65535s (default %s)", cfg.Fudge, DefaultFudge)
	}
	c.fudge = uint16(fudge / time.Second)
	return c, nil
}

// bindSecret finds the secret in a BIND key file (what tsig-keygen writes),
// so the same file can be included by named.conf and given to us.
var bindSecret = regexp.MustCompile(`secret\s+"([^"]+)"`)

func loadSecret(cfg Config) (string, error) {
	if cfg.Secret != "" && cfg.SecretFile != "" {
		return "", fmt.Errorf("dnsupdate: both secret and secret file are set: keep only one")
	}
	if cfg.SecretFile != "" {
		secret, err := ReadSecretFile(cfg.SecretFile)
		if err != nil {
			return "", fmt.Errorf("dnsupdate: %w", err)
		}
		return secret, nil
	}
	secret, err := DecodeSecret(cfg.Secret)
	if err != nil {
		return "", fmt.Errorf("dnsupdate: TSIG secret %w", err)
	}
	return secret, nil
}

// ReadSecretFile reads a TSIG secret from a file holding the bare base64
// secret or a BIND key file (what tsig-keygen writes), decodes it and
// returns it in canonical base64. A caller loading its configuration calls
// it so that a bad secret fails at start-up, not at the first switch.
func ReadSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read TSIG secret file: %w: check the path and its permissions", err)
	}
	secret := string(b)
	if m := bindSecret.FindStringSubmatch(secret); m != nil {
		secret = m[1]
	}
	decoded, err := DecodeSecret(secret)
	if err != nil {
		return "", fmt.Errorf("TSIG secret file %s %w", path, err)
	}
	return decoded, nil
}

// DecodeSecret checks that secret is base64 holding at least one byte and
// returns it in canonical base64. Its errors read after the secret's name:
// "is empty: ...", "is not valid base64: ...".
func DecodeSecret(secret string) (string, error) {
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return "", fmt.Errorf("is empty: set a base64 secret (tsig-keygen prints one)")
	}
	raw, err := base64.StdEncoding.DecodeString(secret)
	if err != nil {
		return "", fmt.Errorf("is not valid base64: %w; copy the secret from the key statement tsig-keygen printed", err)
	}
	if len(raw) == 0 {
		return "", fmt.Errorf("decodes to nothing: set a real secret")
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}

// Server is the "host:port" this client talks to.
func (c *Client) Server() string { return c.server }
