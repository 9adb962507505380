// Package snmptrap receives libvirt-snmp (LIBVIRT-MIB) v2c traps and informs
// from other hosts and treats each guest notification as a lifecycle event
// of the sending host: counted, exported as metrics, and handed to the fast
// path (a failure.Sink).
package snmptrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/internal/virt"
)

const maxTrapSize = 64 * 1024 // larger datagrams are not libvirt-snmp traps

// Trap results, the values of vcr_snmp_traps_total{result}.
const (
	trapOK        = "ok"
	trapMalformed = "malformed" // undecodable, or a libvirtGuestNotif missing or mistyping a field
	trapIgnored   = "ignored"   // a valid trap, but not a libvirt guest notification
	trapRejected  = "rejected"  // sender not allowed, wrong community or SNMP version
)

// rowStatusDestroy is libvirtGuestRowStatus destroy(6): libvirt-snmp sends
// it when the domain was undefined.
const rowStatusDestroy = 6

// Options configures the trap receiver. Community, Allow or
// AllowUnauthenticated must be set.
type Options struct {
	Address string // UDP listen address, e.g. ":162"
	// Community, if set, must match the trap's (compared in constant time).
	Community string
	// Allow, if set, lists the sender addresses accepted (--snmp.allow);
	// others are rejected before their datagram is decoded.
	Allow []netip.Prefix
	// AllowUnauthenticated accepts any sender with any community
	// (--snmp.allow-unauthenticated): for a network where nothing else can
	// reach the trap port.
	AllowUnauthenticated bool
	Hosts                map[string]string // trap source IP -> host label; default the IP
	Cloud                string
}

// Receiver listens for libvirt-snmp traps and treats each as a
// lifecycle event of the sending host: counted, exported, and given to the
// fast path.
type Receiver struct {
	opts   Options
	auth   auth
	sink   failure.Sink
	logger *slog.Logger
	params *gosnmp.GoSNMP
	now    func() time.Time

	mu      sync.Mutex
	conn    net.PacketConn
	results map[string]float64
	senders *senders
	ready   chan struct{}

	trapsDesc, eventsDesc, stateDesc, lastDesc, evictDesc *prometheus.Desc
}

// New checks opts and builds a receiver; Listen binds it, Run reads.
func New(opts Options, sink failure.Sink, logger *slog.Logger) (*Receiver, error) {
	a := auth{community: opts.Community, allow: opts.Allow, allowUnauthenticated: opts.AllowUnauthenticated}
	if err := a.validate(); err != nil {
		return nil, err
	}
	r := &Receiver{opts: opts, auth: a, sink: sink, logger: logger, now: time.Now,
		params:  &gosnmp.GoSNMP{Version: gosnmp.Version2c},
		results: map[string]float64{trapOK: 0, trapMalformed: 0, trapIgnored: 0, trapRejected: 0},
		senders: newSenders(), ready: make(chan struct{}),
	}
	// The sending hypervisor is the sender label, not host: host is the
	// receiving exporter's own (target) label, and a scrape would otherwise
	// overwrite one with the other.
	cl := prometheus.Labels{"cloud": opts.Cloud}
	r.trapsDesc = prometheus.NewDesc("vcr_snmp_traps_total", "SNMP traps received, by result: ok, malformed, ignored (not a libvirt guest notification), rejected (community or version).", []string{"result"}, nil)
	r.eventsDesc = prometheus.NewDesc("vcr_snmp_guest_events_total", "libvirt-snmp guest notifications, by sending host (sender) and the lifecycle event the reported state implies.", []string{"sender", "event"}, cl)
	r.stateDesc = prometheus.NewDesc("vcr_snmp_domain_state", "Last libvirt domain state a libvirt-snmp trap reported (same codes as vcr_domain_state); sender is the host that sent it.", []string{"sender", "domain", "uuid"}, cl)
	r.lastDesc = prometheus.NewDesc("vcr_snmp_last_trap_timestamp_seconds", "Unix time of the last authenticated trap (allowed sender, right community, any notification) from a sending host (sender).", []string{"sender"}, cl)
	r.evictDesc = prometheus.NewDesc("vcr_snmp_state_evictions_total", "State forgotten to stay within bounds: kind=sender, the least recently heard sending host (its guests and counters with it, beyond 1024 hosts); kind=guest, a new guest not remembered (beyond 10000 guests).", []string{"kind"}, cl)
	return r, nil
}

// Listen binds the UDP socket; call it before Run so a bad address fails
// start-up.
func (r *Receiver) Listen() error {
	conn, err := net.ListenPacket("udp", r.opts.Address)
	if err != nil {
		return fmt.Errorf("--snmp.trap-address %s: %w; pick a free UDP port (162 needs root)", r.opts.Address, err)
	}
	r.mu.Lock()
	r.conn = conn
	r.mu.Unlock()
	close(r.ready)
	return nil
}

// Addr is the bound address (after Listen).
func (r *Receiver) Addr() net.Addr {
	<-r.ready
	return r.conn.LocalAddr()
}

// Run reads traps until ctx ends.
func (r *Receiver) Run(ctx context.Context) {
	<-r.ready
	go func() {
		<-ctx.Done()
		_ = r.conn.Close()
	}()
	buf := make([]byte, maxTrapSize)
	for {
		n, from, err := r.conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.logger.Warn("snmp read", "err", err)
			continue
		}
		if reply := r.HandlePacket(buf[:n], from); reply != nil {
			if _, err := r.conn.WriteTo(reply, from); err != nil {
				r.logger.Warn("answer SNMP inform", "to", from, "err", err)
			}
		}
	}
}

// HandlePacket decodes and processes one datagram. For an accepted inform
// it returns the response to send back (the same varbinds as a
// GetResponse, RFC 3416 4.2.7), so the sender stops retransmitting.
func (r *Receiver) HandlePacket(b []byte, from net.Addr) []byte {
	// An unknown sender costs no decoding, and no log line per datagram:
	// a flood of them must stay cheap.
	if !r.auth.senderAllowed(from) {
		r.count(trapRejected)
		r.logger.Debug("SNMP trap ignored: sender not in --snmp.allow", "from", from)
		return nil
	}
	pkt, err := r.params.UnmarshalTrap(append([]byte(nil), b...), false)
	if err != nil {
		r.count(trapMalformed)
		r.logger.Warn("malformed SNMP packet ignored", "from", from, "err", err)
		return nil
	}
	if pkt.Version != gosnmp.Version2c {
		r.count(trapRejected)
		r.logger.Warn("SNMP trap ignored: only v2c is accepted", "from", from, "version", pkt.Version)
		return nil
	}
	if !r.auth.communityOK(pkt.Community) {
		r.count(trapRejected)
		r.logger.Debug("SNMP trap ignored: wrong community", "from", from)
		return nil
	}
	host := r.hostFor(from)
	r.mu.Lock()
	r.senders.touch(host, r.now())
	r.mu.Unlock()
	g, err := DecodeGuestTrap(pkt)
	switch {
	case errors.Is(err, errNotGuestNotif):
		r.count(trapIgnored)
		r.logger.Debug("SNMP trap ignored: not a libvirt guest notification", "from", from)
	case err != nil:
		r.count(trapMalformed)
		r.logger.Warn("malformed libvirt guest notification ignored", "from", from, "err", err)
	default:
		r.count(trapOK)
		r.apply(g, host)
	}
	if pkt.PDUType != gosnmp.InformRequest {
		return nil
	}
	pkt.PDUType = gosnmp.GetResponse
	reply, err := pkt.MarshalMsg()
	if err != nil {
		r.logger.Warn("encode SNMP inform response", "err", err)
		return nil
	}
	return reply
}

func (r *Receiver) hostFor(from net.Addr) string {
	ip := from.String()
	if ua, ok := from.(*net.UDPAddr); ok {
		ip = ua.IP.String()
	} else if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	if h, ok := r.opts.Hosts[ip]; ok {
		return h
	}
	return ip
}

func (r *Receiver) apply(g GuestTrap, host string) {
	now := r.now()
	event := trapEvent(g.State)
	verdict, alertname := failure.ClassifyState(g.State)
	if g.RowStatus == rowStatusDestroy {
		// Undefined: like libvirt's UNDEFINED event, nothing is left to fail.
		event, verdict, alertname = "undefined", failure.Resolve, ""
	}
	r.mu.Lock()
	sd := r.senders.touch(host, now)
	sd.events[event]++
	if g.RowStatus == rowStatusDestroy {
		r.senders.forget(sd, g.UUID)
	} else {
		r.senders.remember(sd, g.UUID, guest{name: g.Name, state: g.State})
	}
	r.mu.Unlock()

	r.logger.Info("libvirt-snmp guest notification", "host", host, "domain", g.Name, "uuid", g.UUID,
		"state", virt.StateName(g.State), "row_status", g.RowStatus, "fastpath", verdict.String())
	ev := failure.DomainEvent{Host: host, Cloud: r.opts.Cloud, Domain: g.Name, UUID: g.UUID, Event: event,
		Detail: "snmp_trap", State: g.State, Source: "snmp", At: now}
	failure.Dispatch(r.sink, ev, verdict, alertname)
}

func (r *Receiver) count(result string) {
	r.mu.Lock()
	r.results[result]++
	r.mu.Unlock()
}

// Update implements Collector.
func (r *Receiver) Update(_ context.Context, ch chan<- prometheus.Metric) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for res, n := range r.results {
		ch <- prometheus.MustNewConstMetric(r.trapsDesc, prometheus.CounterValue, n, res)
	}
	for host, sd := range r.senders.byHost {
		for ev, n := range sd.events {
			ch <- prometheus.MustNewConstMetric(r.eventsDesc, prometheus.CounterValue, n, host, ev)
		}
		for uuid, g := range sd.guests {
			ch <- prometheus.MustNewConstMetric(r.stateDesc, prometheus.GaugeValue, float64(g.state), host, g.name, uuid)
		}
		ch <- prometheus.MustNewConstMetric(r.lastDesc, prometheus.GaugeValue, float64(sd.lastTrap.UnixNano())/1e9, host)
	}
	for kind, n := range r.senders.evictions {
		ch <- prometheus.MustNewConstMetric(r.evictDesc, prometheus.CounterValue, n, kind)
	}
	return nil
}
