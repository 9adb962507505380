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
	"sync"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/internal/virt"
)

const (
	maxGuests   = 10000     // bound on remembered remote guests
	maxTrapSize = 64 * 1024 // larger datagrams are not libvirt-snmp traps
)

// Trap results, the values of vcr_snmp_traps_total{result}.
const (
	trapOK        = "ok"
	trapMalformed = "malformed" // undecodable, or a libvirtGuestNotif missing or mistyping a field
	trapIgnored   = "ignored"   // a valid trap, but not a libvirt guest notification
	trapRejected  = "rejected"  // wrong community or SNMP version
)

// Options configures the trap receiver.
type Options struct {
	Address   string            // UDP listen address, e.g. ":162"
	Community string            // empty accepts any community
	Hosts     map[string]string // trap source IP -> host label; default the IP
	Cloud     string
}

type guestKey struct{ host, uuid string }

type guest struct {
	name  string
	state int32
}

// Receiver listens for libvirt-snmp traps and treats each as a
// lifecycle event of the sending host: counted, exported, and given to the
// fast path.
type Receiver struct {
	opts   Options
	sink   failure.Sink
	logger *slog.Logger
	params *gosnmp.GoSNMP
	now    func() time.Time

	mu       sync.Mutex
	conn     net.PacketConn
	results  map[string]float64
	events   map[[2]string]float64 // host, event
	guests   map[guestKey]guest
	lastTrap map[string]time.Time
	ready    chan struct{}

	trapsDesc, eventsDesc, stateDesc, lastDesc *prometheus.Desc
}

// New builds a receiver; Run listens.
func New(opts Options, sink failure.Sink, logger *slog.Logger) *Receiver {
	r := &Receiver{opts: opts, sink: sink, logger: logger, now: time.Now,
		params:  &gosnmp.GoSNMP{Version: gosnmp.Version2c},
		results: map[string]float64{trapOK: 0, trapMalformed: 0, trapIgnored: 0, trapRejected: 0},
		events:  make(map[[2]string]float64), guests: make(map[guestKey]guest),
		lastTrap: make(map[string]time.Time), ready: make(chan struct{}),
	}
	// The sending hypervisor is the sender label, not host: host is the
	// receiving exporter's own (target) label, and a scrape would otherwise
	// overwrite one with the other.
	cl := prometheus.Labels{"cloud": opts.Cloud}
	r.trapsDesc = prometheus.NewDesc("vcr_snmp_traps_total", "SNMP traps received, by result: ok, malformed, ignored (not a libvirt guest notification), rejected (community or version).", []string{"result"}, nil)
	r.eventsDesc = prometheus.NewDesc("vcr_snmp_guest_events_total", "libvirt-snmp guest notifications, by sending host (sender) and the lifecycle event the reported state implies.", []string{"sender", "event"}, cl)
	r.stateDesc = prometheus.NewDesc("vcr_snmp_domain_state", "Last libvirt domain state a libvirt-snmp trap reported (same codes as vcr_domain_state); sender is the host that sent it.", []string{"sender", "domain", "uuid"}, cl)
	r.lastDesc = prometheus.NewDesc("vcr_snmp_last_trap_timestamp_seconds", "Unix time of the last valid trap from a sending host (sender).", []string{"sender"}, cl)
	return r
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
	if r.opts.Community != "" && pkt.Community != r.opts.Community {
		r.count(trapRejected)
		r.logger.Warn("SNMP trap ignored: wrong community", "from", from)
		return nil
	}
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
		r.apply(g, r.hostFor(from))
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
	r.mu.Lock()
	r.events[[2]string{host, event}]++
	key := guestKey{host, g.UUID}
	if _, ok := r.guests[key]; ok || len(r.guests) < maxGuests {
		r.guests[key] = guest{name: g.Name, state: g.State}
	}
	r.lastTrap[host] = now
	r.mu.Unlock()

	verdict, alertname := failure.ClassifyState(g.State)
	r.logger.Info("libvirt-snmp guest notification", "host", host, "domain", g.Name, "uuid", g.UUID,
		"state", virt.StateName(g.State), "fastpath", verdict.String())
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
	for k, n := range r.events {
		ch <- prometheus.MustNewConstMetric(r.eventsDesc, prometheus.CounterValue, n, k[0], k[1])
	}
	for k, g := range r.guests {
		ch <- prometheus.MustNewConstMetric(r.stateDesc, prometheus.GaugeValue, float64(g.state), k.host, g.name, k.uuid)
	}
	for h, t := range r.lastTrap {
		ch <- prometheus.MustNewConstMetric(r.lastDesc, prometheus.GaugeValue, float64(t.UnixNano())/1e9, h)
	}
	return nil
}
