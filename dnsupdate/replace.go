package dnsupdate

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// Timing tells where a Replace spent its time, for the caller's metrics.
type Timing struct {
	Update    time.Duration // the UPDATE exchange (both transports if it fell back)
	Verify    time.Duration // the confirming lookup
	Transport string        // transport of the UPDATE that got the final reply
}

// Replace makes addrs the complete A and AAAA RRsets of name, with one
// TSIG-signed UPDATE message, and then checks that the server answers exactly
// addrs. See ReplaceTimed.
func (c *Client) Replace(ctx context.Context, zone, name string, ttl uint32, addrs []netip.Addr) error {
	_, err := c.ReplaceTimed(ctx, zone, name, ttl, addrs)
	return err
}

// ReplaceTimed is Replace that also reports durations. The UPDATE deletes
// both RRsets and inserts the new records in the same message, so resolvers
// never see the name without an address, and a name switched from IPv4 to
// IPv6 (or back) loses its stale family. Errors are *UpdateError or
// *VerifyError and match the package's sentinels with errors.Is.
func (c *Client) ReplaceTimed(ctx context.Context, zone, name string, ttl uint32, addrs []netip.Addr) (Timing, error) {
	var tm Timing
	zone, name = dns.CanonicalName(zone), dns.CanonicalName(name)
	ue := &UpdateError{Op: "update", Server: c.server, Zone: zone, Name: name, Rcode: -1}

	want, err := normalize(addrs)
	if err != nil {
		ue.Kind, ue.Err = ErrInvalid, err
		return tm, ue
	}
	if _, ok := dns.IsDomainName(zone); !ok || zone == "." {
		ue.Kind, ue.Err = ErrInvalid, fmt.Errorf("zone %q is not a domain name", zone)
		return tm, ue
	}
	if !dns.IsSubDomain(zone, name) {
		// Caught here rather than by the server's NOTZONE, to say which
		// setting is wrong without a round trip.
		ue.Kind = ErrNotZone
		return tm, ue
	}

	build := func() *dns.Msg {
		m := new(dns.Msg)
		m.SetUpdate(zone)
		m.Compress = true // name compression lets about twice as many records fit in UDP
		m.RemoveRRset([]dns.RR{
			&dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET}},
			&dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET}},
		})
		m.Insert(records(name, ttl, want))
		return m
	}

	start := time.Now()
	ex, err := c.exchange(ctx, build, true, ue)
	tm.Update = time.Since(start)
	tm.Transport = ex.transport
	if err != nil {
		return tm, err
	}
	if err := checkReply(ex, true, ue); err != nil {
		return tm, err
	}

	start = time.Now()
	got, err := c.Lookup(ctx, name)
	tm.Verify = time.Since(start)
	if err != nil {
		return tm, fmt.Errorf("dns update of %s applied, but verifying it failed: %w", name, err)
	}
	if !slices.Equal(got, want) {
		return tm, &VerifyError{Server: c.server, Name: name, Want: want, Got: got}
	}
	return tm, nil
}

// normalize sorts, de-duplicates and unmaps addrs, so that ::ffff:10.0.0.1
// becomes an A record and comparisons with a lookup are exact.
func normalize(addrs []netip.Addr) ([]netip.Addr, error) {
	if len(addrs) == 0 {
		return nil, fmt.Errorf("no addresses: refusing to leave the name without records")
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if !a.IsValid() {
			return nil, fmt.Errorf("invalid (zero) address in %v", addrs)
		}
		out = append(out, a.Unmap().WithZone(""))
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out), nil
}

func records(name string, ttl uint32, addrs []netip.Addr) []dns.RR {
	rrs := make([]dns.RR, 0, len(addrs))
	for _, a := range addrs {
		if a.Is4() {
			rrs = append(rrs, &dns.A{
				Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl},
				A:   a.AsSlice(),
			})
		} else {
			rrs = append(rrs, &dns.AAAA{
				Hdr:  dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl},
				AAAA: a.AsSlice(),
			})
		}
	}
	return rrs
}
