package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// Sentinels for errors.Is. Every error returned by Replace and Lookup wraps
// exactly one of them (besides any underlying network error).
var (
	ErrBadKey      = errors.New("TSIG key rejected")
	ErrBadTime     = errors.New("TSIG time outside the fudge window")
	ErrRefused     = errors.New("update refused")
	ErrNotAuth     = errors.New("server not authoritative for the zone")
	ErrNotZone     = errors.New("name not within the zone")
	ErrServFail    = errors.New("server failure")
	ErrTimeout     = errors.New("DNS server timed out")
	ErrUnreachable = errors.New("DNS server unreachable")
	ErrBadResponse = errors.New("bad DNS response")
	ErrRcode       = errors.New("DNS error response")
	ErrMismatch    = errors.New("authoritative answer differs from the update")
	ErrInvalid     = errors.New("invalid request")
)

// UpdateError is a failed exchange with the server, or a request refused
// before sending. Its message ends with what to do about it.
type UpdateError struct {
	Op        string // "update" or "lookup"
	Server    string
	Zone      string // empty for lookups
	Name      string
	Transport string // "udp" or "tcp"; empty when nothing was sent
	Rcode     int    // header rcode of the reply, -1 without a reply
	TSIGError uint16 // error field of the reply's TSIG RR (dns.RcodeBadSig, ...), 0 if none
	Kind      error  // one of the sentinels above
	Err       error  // underlying error, may be nil
}

func (e *UpdateError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dns %s of %s", e.Op, e.Name)
	if e.Zone != "" {
		fmt.Fprintf(&b, " in zone %s", e.Zone)
	}
	fmt.Fprintf(&b, " at %s", e.Server)
	if e.Transport != "" {
		fmt.Fprintf(&b, " (%s)", e.Transport)
	}
	b.WriteString(": ")
	if e.Rcode >= 0 {
		b.WriteString(rcodeName(e.Rcode))
		if e.TSIGError != 0 {
			fmt.Fprintf(&b, " (TSIG %s)", rcodeName(int(e.TSIGError)))
		}
	} else {
		b.WriteString(e.Kind.Error())
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	b.WriteString(": ")
	b.WriteString(e.hint())
	return b.String()
}

func (e *UpdateError) hint() string {
	switch e.Kind {
	case ErrBadKey:
		return "check the TSIG key name and secret (and algorithm) match the server's key statement"
	case ErrBadTime:
		return "clock skew between receiver and DNS server exceeds the TSIG fudge; sync both clocks (NTP)"
	case ErrRefused:
		if e.Op == "probe" {
			return "check that " + e.Server + " serves the zone and lets this key query it (allow-query)"
		}
		return "check update-policy (or allow-update) grants this key the name on " + e.Server
	case ErrNotAuth:
		return "the server is not authoritative (primary) for the zone; point dns.server at the zone's primary"
	case ErrNotZone:
		return "the name is outside the zone; check the service's dns.name and dns.zone"
	case ErrServFail:
		return "the server could not apply the request; read the DNS server's log"
	case ErrTimeout:
		return "no answer from " + e.Server + "; check the DNS server runs and listens there, or raise the timeout"
	case ErrUnreachable:
		return "nothing answers at " + e.Server + "; check the server address and that the DNS server runs"
	case ErrBadResponse:
		return "the reply could not be trusted; check the TSIG secret and that " + e.Server + " is the real server"
	case ErrInvalid:
		return "fix the request"
	case context.Canceled:
		return "the caller cancelled the request; the update may or may not have been applied, so look the name up before retrying"
	}
	return "read the DNS server's log"
}

// Permanent reports whether sending the same request again cannot succeed
// until someone changes the server's or the sender's configuration: the key
// is refused (BADKEY, BADSIG), the update is refused (REFUSED), the server is
// not authoritative (NOTAUTH), the name lies outside the zone, or the request
// is invalid. Timeouts, unreachable servers, BADTIME, SERVFAIL and bad
// responses may pass and are worth retrying.
func (e *UpdateError) Permanent() bool {
	switch e.Kind {
	case ErrBadKey, ErrRefused, ErrNotAuth, ErrNotZone, ErrInvalid:
		return true
	}
	return false
}

// IsPermanent reports whether err holds an *UpdateError that is Permanent.
func IsPermanent(err error) bool {
	var ue *UpdateError
	return errors.As(err, &ue) && ue.Permanent()
}

func (e *UpdateError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// VerifyError says the update was accepted but the authoritative server does
// not answer what was written, e.g. a second writer or a secondary server.
type VerifyError struct {
	Server string
	Name   string
	Want   []netip.Addr
	Got    []netip.Addr
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("dns verify of %s at %s: answer %v, want %v: %v; check that %s is the zone's primary and nothing else updates the name",
		e.Name, e.Server, e.Got, e.Want, ErrMismatch, e.Server)
}

func (e *VerifyError) Unwrap() error { return ErrMismatch }

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}

// kindForRcode maps a reply's header rcode and TSIG error to a sentinel.
func kindForRcode(rcode int, tsigErr uint16) error {
	switch tsigErr {
	case dns.RcodeBadSig, dns.RcodeBadKey:
		return ErrBadKey
	case dns.RcodeBadTime:
		return ErrBadTime
	}
	switch rcode {
	case dns.RcodeNotAuth:
		return ErrNotAuth
	case dns.RcodeRefused:
		return ErrRefused
	case dns.RcodeNotZone:
		return ErrNotZone
	case dns.RcodeServerFailure:
		return ErrServFail
	}
	return ErrRcode
}
