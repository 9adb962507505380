package live

import (
	"context"
	"net/netip"

	"github.com/vcrcovery/vcrcovery/dnsupdate"
	"github.com/vcrcovery/vcrcovery/receiver/config"
)

// DNS switches records with package dnsupdate. It builds a client per call,
// so a reloaded config or a rotated secret file takes effect at once.
type DNS struct{}

func client(s config.DNSServer) (*dnsupdate.Client, error) {
	return dnsupdate.New(dnsupdate.Config{Server: s.Address, KeyName: s.KeyName, Algorithm: s.Algorithm, SecretFile: s.SecretFile, Timeout: s.Timeout})
}

// Replace implements pipeline.DNS.
func (DNS) Replace(ctx context.Context, s config.DNSServer, zone, name string, ttl uint32, addrs []netip.Addr) error {
	c, err := client(s)
	if err != nil {
		return err
	}
	return c.Replace(ctx, zone, name, ttl, addrs)
}

// Lookup implements pipeline.DNS.
func (DNS) Lookup(ctx context.Context, s config.DNSServer, zone, name string) ([]netip.Addr, error) {
	c, err := client(s)
	if err != nil {
		return nil, err
	}
	return c.Lookup(ctx, name)
}

// Probe implements receiver.DNSProber: a TSIG-signed SOA query for zone.
func (DNS) Probe(ctx context.Context, s config.DNSServer, zone string) error {
	c, err := client(s)
	if err != nil {
		return err
	}
	return c.Probe(ctx, zone)
}
