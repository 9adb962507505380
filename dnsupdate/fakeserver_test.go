package dnsupdate

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeServer is an in-process authoritative server for one zone that applies
// RFC 2136 updates to a map, enough to exercise the client's side of the
// protocol. Real BIND behaviour is covered by the integration tests.
type fakeServer struct {
	addr string
	zone string

	mu         sync.Mutex
	rrs        map[string][]dns.RR // owner name + "/" + type -> RRset
	updates    []string            // transport of every applied update
	refuse     bool                // answer updates with REFUSED
	hang       bool                // never answer updates
	truncate   bool                // answer UDP updates with TC set, unapplied
	ignore     bool                // answer NOERROR but apply nothing
	requireKey bool
}

func startFake(t *testing.T, zone, keyName, secret string) *fakeServer {
	t.Helper()
	f := &fakeServer{zone: zone, rrs: map[string][]dns.RR{}, requireKey: true}
	var (
		pc net.PacketConn
		l  net.Listener
	)
	// UDP and TCP must share a port so the TCP fallback reaches us.
	for i := 0; ; i++ {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		if i == 20 {
			t.Fatalf("no free UDP+TCP port pair: %v", err)
		}
	}
	f.addr = pc.LocalAddr().String()
	secrets := map[string]string{dns.CanonicalName(keyName): secret}
	// miekg's default accept func answers NOTIMP to UPDATE.
	accept := func(dh dns.Header) dns.MsgAcceptAction {
		if op := int(dh.Bits>>11) & 0xF; op == dns.OpcodeUpdate {
			return dns.MsgAccept
		}
		return dns.DefaultMsgAcceptFunc(dh)
	}
	udp := &dns.Server{PacketConn: pc, Handler: f, TsigSecret: secrets, MsgAcceptFunc: accept}
	tcp := &dns.Server{Listener: l, Handler: f, TsigSecret: secrets, MsgAcceptFunc: accept}
	for _, s := range []*dns.Server{udp, tcp} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ActivateAndServe()
		<-started
		t.Cleanup(func() { s.Shutdown() })
	}
	return f
}

// configure changes the server's behaviour flags under its lock.
func (f *fakeServer) configure(fn func(*fakeServer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeServer) set(rr ...dns.RR) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range rr {
		k := rrKey(r.Header().Name, r.Header().Rrtype)
		f.rrs[k] = append(f.rrs[k], r)
	}
}

func (f *fakeServer) get(name string, qtype uint16) []dns.RR {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]dns.RR(nil), f.rrs[rrKey(name, qtype)]...)
}

func (f *fakeServer) applied() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.updates...)
}

func rrKey(name string, t uint16) string { return strings.ToLower(name) + "/" + dns.TypeToString[t] }

func (f *fakeServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	if req.Opcode == dns.OpcodeQuery {
		m.Authoritative = true
		q := req.Question[0]
		m.Answer = f.get(q.Name, q.Qtype)
		w.WriteMsg(m)
		return
	}
	f.serveUpdate(w, req, m)
}

func (f *fakeServer) serveUpdate(w dns.ResponseWriter, req, m *dns.Msg) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := req.IsTsig()
	if t == nil {
		if f.requireKey {
			m.Rcode = dns.RcodeRefused
			w.WriteMsg(m)
		}
		return
	}
	// Reply the way BIND does: NOTAUTH plus the TSIG error; BADSIG and
	// BADKEY replies go unsigned (miekg skips signing them), BADTIME signed.
	if err := w.TsigStatus(); err != nil {
		m.Rcode = dns.RcodeNotAuth
		m.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
		rt := m.Extra[len(m.Extra)-1].(*dns.TSIG)
		switch err {
		case dns.ErrSecret:
			rt.Error = dns.RcodeBadKey
		case dns.ErrTime:
			rt.Error = dns.RcodeBadTime
		default:
			rt.Error = dns.RcodeBadSig
		}
		w.WriteMsg(m)
		return
	}
	sign := func() { m.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix()) }
	switch {
	case f.hang:
		return
	case f.refuse:
		m.Rcode = dns.RcodeRefused
		sign()
		w.WriteMsg(m)
		return
	case f.truncate && w.RemoteAddr().Network() == "udp":
		m.Truncated = true
		sign()
		w.WriteMsg(m)
		return
	case !strings.EqualFold(req.Question[0].Name, f.zone):
		m.Rcode = dns.RcodeNotAuth
		sign()
		w.WriteMsg(m)
		return
	}
	if !f.ignore {
		for _, rr := range req.Ns {
			h := rr.Header()
			if !dns.IsSubDomain(f.zone, h.Name) {
				m.Rcode = dns.RcodeNotZone
				sign()
				w.WriteMsg(m)
				return
			}
		}
		for _, rr := range req.Ns {
			h := rr.Header()
			k := rrKey(h.Name, h.Rrtype)
			switch h.Class {
			case dns.ClassANY:
				delete(f.rrs, k)
			case dns.ClassINET:
				f.rrs[k] = append(f.rrs[k], dns.Copy(rr))
			}
		}
		f.updates = append(f.updates, w.RemoteAddr().Network())
	}
	sign()
	w.WriteMsg(m)
}
