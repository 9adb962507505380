package config

import "time"

// Defaults chosen so a small config works on a normal host.
const (
	DefaultJournalPath   = "/var/lib/vcr-receiver/journal.db"
	DefaultPluginDir     = "/usr/lib/vcr/plugins"
	DefaultPluginTimeout = 2 * time.Minute
	DefaultMaxAttempts   = 3
	DefaultBackoff       = time.Second
	DefaultMaxBackoff    = 15 * time.Second
	DefaultFenceTimeout  = 10 * time.Second
	DefaultVerifyTimeout = time.Minute
	DefaultSwitchTimeout = 5 * time.Second
	DefaultDNSTimeout    = 2 * time.Second
	// DefaultDNSProbeInterval: a DNS server that stops accepting the key is
	// noticed within about half a minute, at one small query per zone.
	DefaultDNSProbeInterval = 30 * time.Second
	DefaultTTL              = 30
	DefaultGracePeriod      = 30 * time.Second
	DefaultHostTimeout      = 5 * time.Second
	DefaultPruneInterval    = time.Hour
	// DefaultMaxConcurrentPrepares is the per-standby bound on prepares
	// running at once; `make bench-fleet` compares bounds (its -limits flag).
	DefaultMaxConcurrentPrepares = 16
	// DefaultMaxConcurrentUpdates keeps three replicas (48 UPDATEs) well
	// under BIND's default update-quota of 100.
	DefaultMaxConcurrentUpdates = 16
)

func (c *Config) applyDefaults() {
	if c.Cost != nil {
		c.Cost.ApplyDefaults()
	}
	if c.Journal.Backend == "" {
		c.Journal.Backend = "bbolt"
	}
	if c.Journal.Path == "" {
		c.Journal.Path = DefaultJournalPath
	}
	if c.Journal.PruneInterval == 0 {
		c.Journal.PruneInterval = DefaultPruneInterval
	}
	if c.Journal.Backend == "etcd" {
		if c.Journal.Prefix == "" {
			c.Journal.Prefix = "/vcr/"
		}
		if c.Journal.DialTimeout == 0 {
			c.Journal.DialTimeout = 5 * time.Second
		}
		if c.Journal.RequestTimeout == 0 {
			c.Journal.RequestTimeout = 3 * time.Second
		}
		if c.Journal.LeaseTTL == 0 {
			c.Journal.LeaseTTL = 5 * time.Second
		}
	}
	if c.Plugins.Dir == "" {
		c.Plugins.Dir = DefaultPluginDir
	}
	if c.Plugins.Timeout == 0 {
		c.Plugins.Timeout = DefaultPluginTimeout
	}
	p := &c.Pipeline
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.Backoff == 0 {
		p.Backoff = DefaultBackoff
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = DefaultMaxBackoff
	}
	if p.FenceTimeout == 0 {
		p.FenceTimeout = DefaultFenceTimeout
	}
	if p.VerifyTimeout == 0 {
		p.VerifyTimeout = DefaultVerifyTimeout
	}
	if p.SwitchTimeout == 0 {
		p.SwitchTimeout = DefaultSwitchTimeout
	}
	if p.MaxConcurrentPrepares == 0 {
		p.MaxConcurrentPrepares = DefaultMaxConcurrentPrepares
	}
	for i := range c.DNSServers {
		s := &c.DNSServers[i]
		if s.Algorithm == "" {
			s.Algorithm = "hmac-sha256"
		}
		if s.Timeout == 0 {
			s.Timeout = DefaultDNSTimeout
		}
		if s.MaxConcurrentUpdates == 0 {
			s.MaxConcurrentUpdates = DefaultMaxConcurrentUpdates
		}
	}
	for i := range c.Services {
		s := &c.Services[i]
		if s.DNS.TTL == 0 {
			s.DNS.TTL = DefaultTTL
		}
		if s.DNS.Server == "" && len(c.DNSServers) == 1 {
			s.DNS.Server = c.DNSServers[0].Name
		}
		if s.Primary.Host.Timeout == 0 {
			s.Primary.Host.Timeout = DefaultHostTimeout
		}
		if s.Check.Timeout == 0 {
			s.Check.Timeout = c.Pipeline.VerifyTimeout
		}
		if s.Check.HTTPPath != "" && s.Check.ExpectStatus == 0 {
			s.Check.ExpectStatus = 200
		}
	}
}
