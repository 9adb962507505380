package dnsupdate

import (
	"context"
	"errors"

	"github.com/miekg/dns"
)

// Probe asks the server for the SOA of zone with a TSIG-signed query. It
// proves, without changing anything, what a switch needs: the server
// answers, is authoritative for the zone, and accepts this client's key
// (a wrong key, name or algorithm comes back NOTAUTH with BADSIG or BADKEY,
// as an UPDATE would). Its errors are *UpdateError like Replace's, with Op
// "probe".
func (c *Client) Probe(ctx context.Context, zone string) error {
	zone = dns.CanonicalName(zone)
	ue := &UpdateError{Op: "probe", Server: c.server, Name: zone + " SOA", Rcode: -1}
	build := func() *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(zone, dns.TypeSOA)
		m.RecursionDesired = false
		return m
	}
	ex, err := c.exchange(ctx, build, true, ue)
	if err != nil {
		return err
	}
	if err := checkReply(ex, true, ue); err != nil {
		return err
	}
	for _, rr := range ex.reply.Answer {
		if soa, ok := rr.(*dns.SOA); ok && ex.reply.Authoritative && equalNames(soa.Hdr.Name, zone) {
			return nil
		}
	}
	ue.Kind, ue.Err = ErrNotAuth, errors.New("no authoritative SOA for the zone in the answer")
	return ue
}
