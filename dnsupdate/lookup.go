package dnsupdate

import (
	"context"
	"errors"
	"net/netip"
	"slices"

	"github.com/miekg/dns"
)

// Lookup asks the configured (authoritative) server for the A and AAAA
// records of name and returns them sorted. A name without addresses, or one
// that does not exist, gives an empty slice and no error. Queries are not
// TSIG-signed; an answer without the AA bit is an error, because a cache
// could hide whether an update took effect.
func (c *Client) Lookup(ctx context.Context, name string) ([]netip.Addr, error) {
	name = dns.CanonicalName(name)
	var out []netip.Addr
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		ue := &UpdateError{Op: "lookup", Server: c.server, Name: name + " " + dns.TypeToString[qtype], Rcode: -1}
		build := func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion(name, qtype)
			m.RecursionDesired = false
			// Big RRsets fit in one UDP reply; TCP remains the fallback.
			m.SetEdns0(4096, false)
			return m
		}
		ex, err := c.exchange(ctx, build, false, ue)
		if err != nil {
			return nil, err
		}
		r := ex.reply
		if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
			ue.Rcode = r.Rcode
			ue.Kind = kindForRcode(r.Rcode, 0)
			return nil, ue
		}
		if !r.Authoritative {
			ue.Rcode = r.Rcode
			ue.Kind, ue.Err = ErrNotAuth, errors.New("answer lacks the AA flag")
			return nil, ue
		}
		for _, rr := range r.Answer {
			if !equalNames(rr.Header().Name, name) {
				continue // e.g. the target of a CNAME; we only report the name itself
			}
			switch v := rr.(type) {
			case *dns.A:
				if a, ok := netip.AddrFromSlice(v.A.To4()); ok {
					out = append(out, a)
				}
			case *dns.AAAA:
				if a, ok := netip.AddrFromSlice(v.AAAA); ok {
					out = append(out, a.Unmap())
				}
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out), nil
}

func equalNames(a, b string) bool { return dns.CanonicalName(a) == dns.CanonicalName(b) }
