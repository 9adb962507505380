package receiver_test

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// updateCounter is an in-process authoritative DNS server for one zone that
// checks TSIG, applies RFC 2136 UPDATEs and counts them, so tests can assert
// how many switches the receiver really sent. OnUpdate, if set, runs after an
// UPDATE is applied and before it is answered.
type updateCounter struct {
	Addr    string
	zone    string
	keyName string
	secret  string

	mu       sync.Mutex
	records  map[string][]string // name -> IPv4s
	updates  int
	OnUpdate func(n int)
	servers  []*dns.Server
}

func startUpdateCounter(t *testing.T, zone, keyName, secret string) *updateCounter {
	t.Helper()
	s := &updateCounter{zone: zone, keyName: keyName, secret: secret, records: map[string][]string{}}
	// UDP and TCP share the port; retry when the TCP side is taken.
	var pc net.PacketConn
	var l net.Listener
	for attempt := 0; ; attempt++ {
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
		if attempt == 20 {
			t.Fatal(err)
		}
	}
	s.Addr = pc.LocalAddr().String()
	tsig := map[string]string{keyName: secret}
	// miekg's default accept function answers UPDATE with NOTIMP.
	accept := func(dns.Header) dns.MsgAcceptAction { return dns.MsgAccept }
	for _, srv := range []*dns.Server{{PacketConn: pc, TsigSecret: tsig, Handler: s, MsgAcceptFunc: accept}, {Listener: l, TsigSecret: tsig, Handler: s, MsgAcceptFunc: accept}} {
		s.servers = append(s.servers, srv)
		go srv.ActivateAndServe()
	}
	t.Cleanup(func() {
		for _, srv := range s.servers {
			srv.Shutdown()
		}
	})
	return s
}

func (s *updateCounter) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	signed := r.IsTsig() != nil
	if signed && w.TsigStatus() != nil {
		m.Rcode = dns.RcodeNotAuth
		w.WriteMsg(m)
		return
	}
	if r.Opcode == dns.OpcodeUpdate {
		if !signed {
			m.Rcode = dns.RcodeRefused
			w.WriteMsg(m)
			return
		}
		s.mu.Lock()
		for _, rr := range r.Ns {
			h := rr.Header()
			name := strings.ToLower(h.Name)
			switch {
			case h.Class == dns.ClassANY && h.Rrtype == dns.TypeA:
				delete(s.records, name)
			case h.Class == dns.ClassINET:
				if a, ok := rr.(*dns.A); ok {
					s.records[name] = append(s.records[name], a.A.String())
				}
			}
		}
		s.updates++
		n, hook := s.updates, s.OnUpdate
		s.mu.Unlock()
		if hook != nil {
			hook(n)
		}
		m.SetTsig(s.keyName, dns.HmacSHA256, 300, time.Now().Unix())
		w.WriteMsg(m)
		return
	}
	if len(r.Question) == 1 && r.Question[0].Qtype == dns.TypeSOA && strings.EqualFold(r.Question[0].Name, s.zone) {
		// The receiver's signed probe.
		m.Answer = append(m.Answer, &dns.SOA{Hdr: dns.RR_Header{Name: s.zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 1},
			Ns: "ns." + s.zone, Mbox: "hostmaster." + s.zone, Serial: 1, Refresh: 60, Retry: 30, Expire: 600, Minttl: 1})
	}
	if len(r.Question) == 1 && r.Question[0].Qtype == dns.TypeA {
		q := r.Question[0]
		s.mu.Lock()
		for _, ip := range s.records[strings.ToLower(q.Name)] {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1}, A: net.ParseIP(ip)})
		}
		s.mu.Unlock()
	}
	if signed {
		m.SetTsig(s.keyName, dns.HmacSHA256, 300, time.Now().Unix())
	}
	w.WriteMsg(m)
}

func (s *updateCounter) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updates
}

func (s *updateCounter) lookup(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.records[name]...)
}
