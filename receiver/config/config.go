// Package config loads and validates vcr-receiver's YAML configuration. It
// decodes strictly (unknown keys are errors) and reports every problem with
// the path of the offending field, like `services[2].dns.zone: must end with
// a dot`, so a typo fails `--check-config` rather than a recovery.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/vcrcovery/vcrcovery/cost"
	"github.com/vcrcovery/vcrcovery/dnsupdate"
	"github.com/vcrcovery/vcrcovery/internal/yamlx"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// Config is the whole receiver configuration.
type Config struct {
	Web        Web                  `yaml:"web"`
	Journal    Journal              `yaml:"journal"`
	Plugins    Plugins              `yaml:"plugins"`
	Pipeline   Pipeline             `yaml:"pipeline"`
	DNSServers []DNSServer          `yaml:"dns_servers"`
	LXDRemotes map[string]LXDRemote `yaml:"lxd_remotes"`
	BackupDir  string               `yaml:"backup_dir"`
	Services   []Service            `yaml:"services"`
	// Cost is the optional standby cost model (package cost), shown on the
	// status page, by `vcrctl cost` and as metrics.
	Cost *cost.Config `yaml:"cost"`

	// Filled by Load from the secret files, never from YAML.
	BearerToken   string `yaml:"-"`
	BasicPassword string `yaml:"-"`
}

// Web configures who may call the API. TLS is configured separately through
// --web.config.file (exporter-toolkit).
type Web struct {
	Auth Auth `yaml:"auth"`
}

// Auth accepts a bearer token, basic auth, or both; with neither set the API
// is open (acceptable only on a loopback or mTLS-protected listener).
type Auth struct {
	BearerTokenFile string     `yaml:"bearer_token_file"`
	BasicAuth       *BasicAuth `yaml:"basic_auth"`
}

// BasicAuth is a username and a file holding the password.
type BasicAuth struct {
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
}

// Journal selects the durable store.
type Journal struct {
	Backend string `yaml:"backend"` // "bbolt" (default) or "etcd"
	Path    string `yaml:"path"`    // bbolt only
	// etcd only: a journal shared by several receiver replicas.
	Endpoints      []string      `yaml:"endpoints"`
	Prefix         string        `yaml:"prefix"`
	Replica        string        `yaml:"replica"`
	DialTimeout    time.Duration `yaml:"dial_timeout"`
	RequestTimeout time.Duration `yaml:"request_timeout"`
	LeaseTTL       time.Duration `yaml:"lease_ttl"`
	TLS            EtcdTLS       `yaml:"tls"`
	// MaxTxnOps and MaxTxnBytes bound one etcd transaction (0: the
	// journal's defaults, below etcd's --max-txn-ops and
	// --max-request-bytes); larger writes are split.
	MaxTxnOps   int `yaml:"max_txn_ops"`
	MaxTxnBytes int `yaml:"max_txn_bytes"`

	// Retention is how long closed incidents, alert records and events are
	// kept; 0 means journal.DefaultRetention (30 days). PruneInterval is
	// how often the receiver prunes what is older.
	Retention     time.Duration `yaml:"retention"`
	PruneInterval time.Duration `yaml:"prune_interval"`
}

// EtcdTLS are the client's TLS files for etcd.
type EtcdTLS struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Plugins says where strategy plugins live and how long a call may take.
type Plugins struct {
	Dir string `yaml:"dir"`
	// Checksums pins plugin binaries by strategy name to a SHA-256 (hex).
	Checksums map[string]string `yaml:"checksums"`
	Timeout   time.Duration     `yaml:"timeout"`
}

// Pipeline bounds retries and phase deadlines.
type Pipeline struct {
	MaxAttempts   int           `yaml:"max_attempts"`
	Backoff       time.Duration `yaml:"backoff"`
	MaxBackoff    time.Duration `yaml:"max_backoff"`
	FenceTimeout  time.Duration `yaml:"fence_timeout"`
	VerifyTimeout time.Duration `yaml:"verify_timeout"`
	SwitchTimeout time.Duration `yaml:"switch_timeout"`
	// MaxConcurrentPrepares bounds the prepares running at once against
	// one standby (one LXD remote, see Service.Target), so that a host
	// failure naming hundreds of services does not start them all at
	// once on one VM. The incidents waiting go in priority order.
	MaxConcurrentPrepares int `yaml:"max_concurrent_prepares"`
}

// DNSServer is an authoritative server that accepts TSIG-signed updates.
type DNSServer struct {
	Name       string        `yaml:"name"`
	Address    string        `yaml:"address"` // host:port
	KeyName    string        `yaml:"key_name"`
	Algorithm  string        `yaml:"algorithm"` // hmac-sha256 (default) or hmac-sha512
	SecretFile string        `yaml:"secret_file"`
	Timeout    time.Duration `yaml:"timeout"`
	// ProbeInterval is how often the receiver sends the server a
	// TSIG-signed SOA query for each zone it switches there; a pointer so
	// that an explicit 0s (no probe) differs from leaving it out. Use Probe.
	ProbeInterval *time.Duration `yaml:"probe_interval"`
	// MaxConcurrentUpdates bounds the switches in flight to this server.
	// BIND drops UPDATEs beyond its update-quota (100 by default, shared
	// by every client) without an answer; keep replicas × this below it.
	MaxConcurrentUpdates int `yaml:"max_concurrent_updates"`
}

// Probe is how often the server's signed probe runs; 0 means never.
func (s DNSServer) Probe() time.Duration {
	if s.ProbeInterval == nil {
		return DefaultDNSProbeInterval
	}
	return *s.ProbeInterval
}

// LXDRemote says how strategies reach one LXD daemon.
type LXDRemote struct {
	Socket     string `yaml:"socket"`
	URL        string `yaml:"url"`
	ClientCert string `yaml:"client_cert"`
	ClientKey  string `yaml:"client_key"`
	ServerCert string `yaml:"server_cert"`
	Address    string `yaml:"address"`
	// AddressPool is a prefix of addresses the remote's VM owns (for
	// example 127.0.1.0/24); each service recovered there gets one of
	// its own (plugins/warm/README.md, "Addresses").
	AddressPool string `yaml:"address_pool"`
}

// Service is one protected service.
type Service struct {
	Name     string    `yaml:"name"`
	Primary  Primary   `yaml:"primary"`
	Strategy Strategy  `yaml:"strategy"`
	ScaleUp  *Strategy `yaml:"scaleup"`
	DNS      DNS       `yaml:"dns"`
	Check    Check     `yaml:"check"`
	Fencing  Fencing   `yaml:"fencing"`
	Flap     Flap      `yaml:"flap"`
	// Priority orders recoveries when many wait for the same standby:
	// higher first (default 0). Ties go in a fixed order that does not
	// favour names or config positions (a hash of the service's name).
	Priority int `yaml:"priority"`
	// Resources is what the service needs wherever it is recovered; nil
	// when it declares nothing (then no capacity is checked for it).
	Resources *Resources `yaml:"resources"`
	// Sync names the vcr-sync daemon that keeps the service's data on its
	// standby; a failback reverses and resumes it (receiver/pipeline).
	Sync *Sync `yaml:"sync"`
}

// Resources is what a service declares it needs: the strategies check that
// the standby has that much free before they start the service there, set
// its container's limits to it, and the capacity view adds it up per host
// and cloud.
type Resources struct {
	// VCPUs may be a fraction (0.5: half of one CPU).
	VCPUs float64 `yaml:"vcpus"`
	// Memory is a size as LXD writes it: 512MiB, 2GiB, 1GB.
	Memory string `yaml:"memory"`
	// MemoryBytes is Memory parsed at load time.
	MemoryBytes int64 `yaml:"-"`
}

// Sync is where a service's data sync runs.
type Sync struct {
	URL     string `yaml:"url"`     // vcr-sync's base URL, e.g. http://127.0.0.1:9480
	Service string `yaml:"service"` // the service's name there; default the service's name
}

// ServiceName is the service's name in vcr-sync.
func (s Sync) ServiceName(service string) string {
	if s.Service != "" {
		return s.Service
	}
	return service
}

// Primary is where the service normally runs.
type Primary struct {
	Domain  string `yaml:"domain"`
	UUID    string `yaml:"uuid"`
	Host    Host   `yaml:"host"`
	Address string `yaml:"address"`
	Port    int    `yaml:"port"`
}

// Host is the libvirt daemon that runs the primary domain.
type Host struct {
	// Name matches the `host` label of VCRHostHeartbeatLost alerts.
	Name string `yaml:"name"`
	// Cloud matches the `cloud` label of VCRCloudDown alerts.
	Cloud string `yaml:"cloud"`
	// Socket is a unix socket path or tcp://host:port; empty means the
	// primary is not fenced through libvirt (the grace period applies).
	Socket  string        `yaml:"socket"`
	URI     string        `yaml:"uri"`
	Timeout time.Duration `yaml:"timeout"`
}

// Strategy names a plugin and its settings.
type Strategy struct {
	Name string `yaml:"name"`
	// Settings is free-form YAML handed to the plugin as JSON.
	Settings map[string]any `yaml:"settings"`
	// SettingsJSON is Settings encoded once at load time.
	SettingsJSON json.RawMessage `yaml:"-"`
}

// DNS is the record the receiver switches.
type DNS struct {
	Name   string `yaml:"name"`
	Zone   string `yaml:"zone"`
	TTL    uint32 `yaml:"ttl"`
	Server string `yaml:"server"` // a dns_servers[].name
}

// Check says when the recovered endpoint counts as ready.
type Check struct {
	Port         int           `yaml:"port"` // 0: the port the strategy returned
	HTTPPath     string        `yaml:"http_path"`
	ExpectStatus int           `yaml:"expect_status"`
	Timeout      time.Duration `yaml:"timeout"`
	// MySQL verifies a database service with a real query instead of a
	// connect: a promoted replica must answer it.
	MySQL *MySQLCheck `yaml:"mysql"`
}

// MySQLCheck logs in to the recovered MariaDB or MySQL and runs Query.
type MySQLCheck struct {
	User         string `yaml:"user"`
	PasswordFile string `yaml:"password_file"`
	Query        string `yaml:"query"` // default SELECT 1
	// Password is read from PasswordFile at load time.
	Password string `yaml:"-"`
}

// Fencing is the split-brain policy.
type Fencing struct {
	// GracePeriod is a pointer so that an explicit 0s (do not wait) differs
	// from leaving it out (DefaultGracePeriod). Use Grace.
	GracePeriod                    *time.Duration `yaml:"grace_period"`
	AllowSwitchWhilePrimaryAnswers bool           `yaml:"allow_switch_while_primary_answers"`
}

// Grace is how long to wait when the primary's host cannot be reached.
func (f Fencing) Grace() time.Duration {
	if f.GracePeriod == nil {
		return DefaultGracePeriod
	}
	return *f.GracePeriod
}

// Flap stops a service from bouncing: an automatic failover within
// MinInterval of the previous recovery's end needs an operator instead.
type Flap struct {
	MinInterval time.Duration `yaml:"min_interval"`
}

// Load reads, decodes, defaults and validates the file at path, and reads
// the secret files it names.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w; check --config.file", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := cfg.readSecrets(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes and validates a config without touching the file system.
func Parse(data []byte) (*Config, error) {
	var cfg Config
	switch err := yamlx.DecodeStrict(data, &cfg); {
	case errors.Is(err, yamlx.ErrEmpty):
		return nil, errors.New("config is empty: at least one service is needed")
	case errors.Is(err, yamlx.ErrMultipleDocuments):
		return nil, errors.New("config holds more than one YAML document: keep one")
	case err != nil:
		return nil, fmt.Errorf("decode YAML: %w", err)
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func (c *Config) readSecrets() error {
	var errs Errors
	if f := c.Web.Auth.BearerTokenFile; f != "" {
		tok, err := readSecret(f)
		if err != nil {
			errs.add("web.auth.bearer_token_file", "%v", err)
		}
		c.BearerToken = tok
	}
	if b := c.Web.Auth.BasicAuth; b != nil {
		pw, err := readSecret(b.PasswordFile)
		if err != nil {
			errs.add("web.auth.basic_auth.password_file", "%v", err)
		}
		c.BasicPassword = pw
	}
	for i := range c.Services {
		if m := c.Services[i].Check.MySQL; m != nil && m.PasswordFile != "" {
			pw, err := readSecret(m.PasswordFile)
			if err != nil {
				errs.add(fmt.Sprintf("services[%d].check.mysql.password_file", i), "%v", err)
			}
			m.Password = pw
		}
	}
	// The TSIG secret is decoded now, so a bad one fails at start-up and in
	// --check-config rather than at the first switch, after the primary was
	// fenced.
	for i, s := range c.DNSServers {
		if _, err := dnsupdate.ReadSecretFile(s.SecretFile); err != nil {
			errs.add(fmt.Sprintf("dns_servers[%d].secret_file", i), "%v", err)
		}
	}
	return errs.err()
}

func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %w", path, err)
	}
	s := string(bytes.TrimSpace(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

// Service returns the named service, or nil.
func (c *Config) Service(name string) *Service {
	for i := range c.Services {
		if c.Services[i].Name == name {
			return &c.Services[i]
		}
	}
	return nil
}

// DNSServer returns the named DNS server, or nil.
func (c *Config) DNSServer(name string) *DNSServer {
	for i := range c.DNSServers {
		if c.DNSServers[i].Name == name {
			return &c.DNSServers[i]
		}
	}
	return nil
}

// Shared is the receiver-wide context handed to strategies as
// sdk.PrepareRequest.Shared.
func (c *Config) Shared() json.RawMessage {
	s := sdk.SharedSettings{BackupDir: c.BackupDir}
	if len(c.LXDRemotes) > 0 {
		s.LXDRemotes = make(map[string]sdk.LXDRemote, len(c.LXDRemotes))
		for name, r := range c.LXDRemotes {
			s.LXDRemotes[name] = sdk.LXDRemote(r)
		}
	}
	for _, svc := range c.Services {
		if r := svc.Resources; r != nil {
			if s.Resources == nil {
				s.Resources = map[string]sdk.Resources{}
			}
			s.Resources[svc.Name] = sdk.Resources{VCPUs: r.VCPUs, MemoryBytes: r.MemoryBytes}
		}
	}
	b, _ := json.Marshal(s) // plain strings: cannot fail
	return b
}
