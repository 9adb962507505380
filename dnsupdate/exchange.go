package dnsupdate

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"

	"github.com/miekg/dns"
)

// maxUDPRequest is the classic DNS-over-UDP limit (RFC 1035 4.2.1). Updates
// carry no EDNS0, so a bigger message has to go over TCP (RFC 2136 also
// allows TCP for any update).
const maxUDPRequest = 512

// exchanged is a reply plus how it was obtained.
type exchanged struct {
	reply     *dns.Msg
	transport string
	// verifyErr is the TSIG check of the reply. BIND sends error replies
	// (BADSIG, BADKEY) unsigned, so a failed check is only fatal when the
	// reply claims success.
	verifyErr error
}

// exchange sends the message built by build, over UDP unless it is too big,
// and repeats it over TCP if the UDP reply is truncated. Repeating is safe
// for Replace because its update is idempotent (delete RRsets, then insert).
// build is called once per attempt because signing consumes the TSIG RR.
func (c *Client) exchange(ctx context.Context, build func() *dns.Msg, sign bool, ue *UpdateError) (exchanged, error) {
	m := c.prepare(build(), sign)
	transport := "udp"
	if size := m.Len() + c.tsigOverhead(sign); size > maxUDPRequest {
		transport = "tcp"
	}
	ex, err := c.exchangeOnce(ctx, m, transport, sign, ue)
	if err == nil && transport == "udp" && ex.reply.Truncated {
		ex, err = c.exchangeOnce(ctx, c.prepare(build(), sign), "tcp", sign, ue)
	}
	return ex, err
}

func (c *Client) tsigOverhead(sign bool) int {
	if !sign {
		return 0
	}
	// SetTsig already put the RR in with an empty MAC; the MAC is added
	// when the message is written.
	return c.macSize
}

func (c *Client) prepare(m *dns.Msg, sign bool) *dns.Msg {
	if sign {
		m.SetTsig(c.keyName, c.algorithm, c.fudge, c.now().Unix())
	}
	return m
}

func (c *Client) exchangeOnce(ctx context.Context, m *dns.Msg, transport string, sign bool, ue *UpdateError) (exchanged, error) {
	ue.Transport = transport
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cl := &dns.Client{Net: transport, Timeout: c.timeout}
	if sign {
		cl.TsigSecret = map[string]string{c.keyName: c.secret}
	}
	r, err := exchangeConn(ctx, cl, m, c.server)
	if err == nil || (r != nil && isTSIGVerifyError(err)) {
		return exchanged{reply: r, transport: transport, verifyErr: err}, nil
	}
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		ue.Kind = context.Canceled
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), isTimeout(err), ctx.Err() != nil:
		ue.Kind = ErrTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		ue.Kind = ErrUnreachable
	default:
		ue.Kind = ErrBadResponse
	}
	ue.Err = err
	return exchanged{}, ue
}

// exchangeConn is dns.Client.ExchangeContext that also stops waiting when
// ctx is cancelled: miekg/dns only applies ctx's deadline to the socket, so
// without closing the connection a cancelled switch would sit out its timeout.
func exchangeConn(ctx context.Context, cl *dns.Client, m *dns.Msg, server string) (*dns.Msg, error) {
	co, err := cl.DialContext(ctx, server)
	if err != nil {
		return nil, err
	}
	defer co.Close()
	stop := context.AfterFunc(ctx, func() { co.Close() })
	defer stop()
	r, _, err := cl.ExchangeWithConnContext(ctx, m, co)
	return r, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isTSIGVerifyError(err error) bool {
	return errors.Is(err, dns.ErrSig) || errors.Is(err, dns.ErrTime) || errors.Is(err, dns.ErrSecret) ||
		errors.Is(err, dns.ErrKeyAlg) || errors.Is(err, dns.ErrAuth)
}

// checkReply turns a reply's rcode, TSIG error and signature into an error.
func checkReply(ex exchanged, sign bool, ue *UpdateError) error {
	r := ex.reply
	ue.Rcode = r.Rcode
	if t := r.IsTsig(); t != nil {
		ue.TSIGError = t.Error
	}
	if r.Rcode != dns.RcodeSuccess || ue.TSIGError != 0 {
		ue.Kind = kindForRcode(r.Rcode, ue.TSIGError)
		return ue
	}
	if sign && r.IsTsig() == nil {
		ue.Kind, ue.Err = ErrBadResponse, errors.New("reply is not TSIG-signed")
		return ue
	}
	if ex.verifyErr != nil {
		ue.Kind, ue.Err = ErrBadResponse, ex.verifyErr
		return ue
	}
	return nil
}
