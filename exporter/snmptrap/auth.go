package snmptrap

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// auth decides which datagrams may speak for a hypervisor, from Options'
// Community, Allow and AllowUnauthenticated. SNMP v2c has no real
// authentication: the community is a shared password in clear text, and a
// UDP source address is easy to forge. Still, a trap feeds the fast path,
// which may fail a service over, so the receiver does not start without one
// of the two (or an explicit AllowUnauthenticated).
type auth struct {
	community            string
	allow                []netip.Prefix
	allowUnauthenticated bool
}

var errNoAuth = errors.New("--snmp.trap-address needs --snmp.community or --snmp.allow (or both): without either, anyone who can reach the port fails services over with forged traps; " +
	"set --snmp.allow-unauthenticated to accept that")

func (a auth) validate() error {
	if a.community == "" && len(a.allow) == 0 && !a.allowUnauthenticated {
		return errNoAuth
	}
	return nil
}

// ParseAllow reads --snmp.allow values: CIDRs (10.0.0.0/24) or single
// addresses (10.0.0.7).
func ParseAllow(values []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range values {
		v = strings.TrimSpace(v)
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("--snmp.allow %q: want a CIDR (10.0.0.0/24) or an address", v)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// senderAllowed reports whether from may send traps.
func (a auth) senderAllowed(from net.Addr) bool {
	if len(a.allow) == 0 {
		return true
	}
	ip, ok := addrOf(from)
	if !ok {
		return false
	}
	for _, p := range a.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// communityOK compares in constant time, over digests so that not even the
// length of the configured community leaks through timing.
func (a auth) communityOK(got string) bool {
	if a.community == "" {
		return true
	}
	want, have := sha256.Sum256([]byte(a.community)), sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(want[:], have[:]) == 1
}

func addrOf(from net.Addr) (netip.Addr, bool) {
	if ua, ok := from.(*net.UDPAddr); ok {
		a, ok := netip.AddrFromSlice(ua.IP)
		return a.Unmap(), ok
	}
	ap, err := netip.ParseAddrPort(from.String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}
