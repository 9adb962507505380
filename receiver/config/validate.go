package config

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vcrcovery/vcrcovery/datasync/syncapi"
	"github.com/vcrcovery/vcrcovery/internal/virt"
)

// Errors collects every problem found, each with its field path.
type Errors []FieldError

// FieldError is one invalid field.
type FieldError struct {
	Path    string
	Message string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Message }

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es *Errors) add(path, format string, args ...any) {
	*es = append(*es, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,62})$`)

// Validate checks the whole config and returns Errors listing every problem.
func (c *Config) Validate() error {
	var errs Errors
	if b := c.Web.Auth.BasicAuth; b != nil {
		if b.Username == "" {
			errs.add("web.auth.basic_auth.username", "must not be empty")
		}
		if b.PasswordFile == "" {
			errs.add("web.auth.basic_auth.password_file", "must name a file holding the password")
		}
	}
	switch c.Journal.Backend {
	case "bbolt":
	case "etcd":
		if len(c.Journal.Endpoints) == 0 {
			errs.add("journal.endpoints", "must list the etcd members (host:port or URL) when journal.backend is etcd")
		}
		if c.Journal.LeaseTTL < time.Second {
			errs.add("journal.lease_ttl", "must be at least 1s: etcd leases count whole seconds")
		}
		if (c.Journal.TLS.CertFile == "") != (c.Journal.TLS.KeyFile == "") {
			errs.add("journal.tls", "cert_file and key_file go together")
		}
	default:
		errs.add("journal.backend", "unknown backend %q; use bbolt or etcd", c.Journal.Backend)
	}
	if c.Journal.Retention < 0 {
		errs.add("journal.retention", "must not be negative (0 keeps 30 days)")
	}
	if c.Journal.PruneInterval < 0 {
		errs.add("journal.prune_interval", "must not be negative")
	}
	if c.Journal.MaxTxnOps < 0 || c.Journal.MaxTxnBytes < 0 {
		errs.add("journal", "max_txn_ops and max_txn_bytes must not be negative (0 keeps the defaults)")
	}
	for name, sum := range c.Plugins.Checksums {
		if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 {
			errs.add("plugins.checksums."+name, "must be a SHA-256 in hex (64 digits), as printed by sha256sum")
		}
	}
	if c.Plugins.Timeout < 0 {
		errs.add("plugins.timeout", "must not be negative")
	}
	p := c.Pipeline
	if p.MaxAttempts < 1 || p.MaxAttempts > 100 {
		errs.add("pipeline.max_attempts", "must be between 1 and 100")
	}
	if p.Backoff < 0 || p.MaxBackoff < p.Backoff {
		errs.add("pipeline.max_backoff", "must be at least pipeline.backoff")
	}
	if p.MaxConcurrentPrepares < 1 {
		errs.add("pipeline.max_concurrent_prepares", "must be at least 1")
	}
	for path, d := range map[string]time.Duration{"pipeline.fence_timeout": p.FenceTimeout, "pipeline.verify_timeout": p.VerifyTimeout, "pipeline.switch_timeout": p.SwitchTimeout} {
		if d < 0 {
			errs.add(path, "must not be negative")
		}
	}

	servers := map[string]bool{}
	for i, s := range c.DNSServers {
		path := fmt.Sprintf("dns_servers[%d]", i)
		if !nameRE.MatchString(s.Name) {
			errs.add(path+".name", "must be a short lowercase name like \"main\"")
		} else if servers[s.Name] {
			errs.add(path+".name", "duplicate server name %q", s.Name)
		}
		servers[s.Name] = true
		if err := checkHostPort(s.Address); err != nil {
			errs.add(path+".address", "%v", err)
		}
		if s.KeyName == "" {
			errs.add(path+".key_name", "must name the TSIG key (updates are always signed)")
		}
		switch strings.TrimSuffix(strings.ToLower(s.Algorithm), ".") {
		case "hmac-sha256", "hmac-sha512":
		default:
			errs.add(path+".algorithm", "%q is not supported; use hmac-sha256 or hmac-sha512", s.Algorithm)
		}
		if s.SecretFile == "" {
			errs.add(path+".secret_file", "must name a file holding the base64 TSIG secret")
		}
		if s.Timeout < 0 {
			errs.add(path+".timeout", "must not be negative")
		}
		if s.Probe() < 0 {
			errs.add(path+".probe_interval", "must not be negative (0s turns the probe off)")
		}
		if s.MaxConcurrentUpdates < 0 {
			errs.add(path+".max_concurrent_updates", "must be at least 1 (0: the default)")
		}
	}

	for name, r := range c.LXDRemotes {
		path := "lxd_remotes." + name
		if (r.Socket == "") == (r.URL == "") {
			errs.add(path, "set exactly one of socket or url")
		}
		if r.URL != "" {
			u, err := url.Parse(r.URL)
			if err != nil || u.Scheme != "https" || u.Host == "" {
				errs.add(path+".url", "must be an https:// URL")
			}
			if r.ClientCert == "" || r.ClientKey == "" {
				errs.add(path, "an https remote needs client_cert and client_key")
			}
		}
		if r.Address != "" {
			if _, err := netip.ParseAddr(r.Address); err != nil {
				errs.add(path+".address", "must be an IP address")
			}
		}
	}

	names := map[string]bool{}
	for i := range c.Services {
		c.validateService(&errs, fmt.Sprintf("services[%d]", i), &c.Services[i], names, servers)
	}
	if len(c.Services) == 0 {
		errs.add("services", "at least one service is needed")
	}
	c.checkAddresses(&errs)
	if c.Cost != nil {
		for _, p := range c.Cost.Problems() {
			errs = append(errs, FieldError{Path: p.Path, Message: p.Message})
		}
	}
	return errs.err()
}

func (c *Config) validateService(errs *Errors, path string, s *Service, names, servers map[string]bool) {
	if !nameRE.MatchString(s.Name) {
		errs.add(path+".name", "must be a lowercase name of letters, digits, '.', '_' or '-'")
	} else if names[s.Name] {
		errs.add(path+".name", "duplicate service name %q", s.Name)
	}
	names[s.Name] = true

	pr := s.Primary
	if pr.Domain == "" && pr.UUID == "" {
		errs.add(path+".primary", "set domain or uuid so alerts can be matched to this service")
	}
	if pr.UUID != "" {
		if _, err := virt.ParseUUID(pr.UUID); err != nil {
			errs.add(path+".primary.uuid", "%v", err)
		}
	}
	if h := pr.Host.Socket; h != "" && strings.Contains(h, "://") && !strings.HasPrefix(h, "tcp://") && !strings.HasPrefix(h, "unix://") {
		errs.add(path+".primary.host.socket", "must be a unix socket path or tcp://host:port")
	}
	if _, err := netip.ParseAddr(pr.Address); err != nil {
		errs.add(path+".primary.address", "must be the primary's IP address (used for failback and the split-brain guard)")
	}
	if pr.Port < 1 || pr.Port > 65535 {
		errs.add(path+".primary.port", "must be the service port (1-65535)")
	}

	checkStrategy(errs, path+".strategy", &s.Strategy)
	if s.ScaleUp != nil {
		checkStrategy(errs, path+".scaleup", s.ScaleUp)
	}

	d := s.DNS
	if d.Zone == "" || !strings.HasSuffix(d.Zone, ".") {
		errs.add(path+".dns.zone", "must end with a dot")
	}
	if d.Name == "" || !strings.HasSuffix(d.Name, ".") {
		errs.add(path+".dns.name", "must be a fully qualified name ending with a dot")
	} else if d.Zone != "" && !inZone(d.Name, d.Zone) {
		errs.add(path+".dns.name", "%s is not inside zone %s", d.Name, d.Zone)
	}
	if d.Server == "" {
		errs.add(path+".dns.server", "must name one of dns_servers")
	} else if !servers[d.Server] {
		errs.add(path+".dns.server", "no dns_servers entry named %q", d.Server)
	}

	ch := s.Check
	if ch.Port < 0 || ch.Port > 65535 {
		errs.add(path+".check.port", "must be 0 (the strategy's port) or 1-65535")
	}
	if ch.HTTPPath != "" && !strings.HasPrefix(ch.HTTPPath, "/") {
		errs.add(path+".check.http_path", "must start with /")
	}
	if ch.ExpectStatus != 0 && (ch.ExpectStatus < 100 || ch.ExpectStatus > 599) {
		errs.add(path+".check.expect_status", "must be an HTTP status (100-599)")
	}
	if ch.Timeout < 0 {
		errs.add(path+".check.timeout", "must not be negative")
	}
	if s.Sync != nil {
		if err := syncapi.CheckURL(s.Sync.URL); err != nil {
			errs.add(path+".sync.url", "%v", err)
		}
	}
	if ch.MySQL != nil {
		if ch.HTTPPath != "" {
			errs.add(path+".check.mysql", "a check is an HTTP GET or a MySQL query, not both: remove http_path")
		}
		if ch.MySQL.User == "" {
			errs.add(path+".check.mysql.user", "must name the account the query runs as")
		}
	}
	if s.Fencing.Grace() < 0 {
		errs.add(path+".fencing.grace_period", "must not be negative")
	}
	if s.Flap.MinInterval < 0 {
		errs.add(path+".flap.min_interval", "must not be negative")
	}
	checkResources(errs, path+".resources", s.Resources)
}

func checkStrategy(errs *Errors, path string, st *Strategy) {
	if !nameRE.MatchString(st.Name) {
		errs.add(path+".name", "must name a strategy plugin (e.g. warm, cold, scaleup)")
	}
	settings := st.Settings
	if settings == nil {
		settings = map[string]any{}
	}
	b, err := json.Marshal(settings)
	if err != nil {
		errs.add(path+".settings", "cannot be passed to the plugin as JSON: %v; use string keys only", err)
		return
	}
	st.SettingsJSON = b
}

func inZone(name, zone string) bool {
	name, zone = strings.ToLower(name), strings.ToLower(zone)
	return zone == "." || name == zone || strings.HasSuffix(name, "."+zone)
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("must be host:port, e.g. 127.0.0.1:53: %v", err)
	}
	if host == "" {
		return fmt.Errorf("host part is empty")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q must be 1-65535", port)
	}
	return nil
}
