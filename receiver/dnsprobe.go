package receiver

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/config"
)

// DNSProber sends a DNS server a TSIG-signed query for a zone's SOA
// (receiver/live: dnsupdate's Probe). It proves what a switch needs without
// changing anything: the server answers, serves the zone and accepts the key.
type DNSProber interface {
	Probe(ctx context.Context, server config.DNSServer, zone string) error
}

// dnsHealth is the last probe of each DNS server. A server fails when any
// zone switched there fails; /-/ready says so, and the metrics
// vcr_receiver_dns_probe_success and ..._last_success_timestamp_seconds
// carry it to the VCRDNSServerProbeFailing alert.
type dnsHealth struct {
	mu     sync.Mutex
	failed map[string]string // server -> why its last probe failed
	probed map[string]bool   // servers with probe series in the metrics
}

// dnsProbeZones lists, for each DNS server that has a probe interval, the
// zones the services switch on it, sorted.
func dnsProbeZones(cfg *config.Config) map[string][]string {
	out := map[string][]string{}
	for _, s := range cfg.Services {
		if srv := cfg.DNSServer(s.DNS.Server); srv != nil && srv.Probe() > 0 && !slices.Contains(out[srv.Name], s.DNS.Zone) {
			out[srv.Name] = append(out[srv.Name], s.DNS.Zone)
		}
	}
	for _, zones := range out {
		sort.Strings(zones)
	}
	return out
}

// probeDNS probes every DNS server once, concurrently, and records the
// results; servers gone from the configuration are forgotten.
func (r *Receiver) probeDNS(ctx context.Context) {
	cfg := r.Config()
	zones := dnsProbeZones(cfg)
	type result struct {
		server string
		err    error
	}
	results := make(chan result, len(zones))
	for name, zs := range zones {
		srv := *cfg.DNSServer(name)
		go func() {
			var err error
			for _, z := range zs {
				pctx, cancel := context.WithTimeout(ctx, 2*max(srv.Timeout, time.Second))
				err = r.opts.DNSProbe.Probe(pctx, srv, z)
				cancel()
				if err != nil {
					break
				}
			}
			results <- result{name, err}
		}()
	}
	failed := map[string]string{}
	for range zones {
		res := <-results
		ok := res.err == nil
		r.m.dnsProbeSuccess.WithLabelValues(res.server).Set(b2f(ok))
		if ok {
			r.m.dnsProbeLastSuccess.WithLabelValues(res.server).Set(float64(r.clock.Now().UnixNano()) / 1e9)
			continue
		}
		failed[res.server] = res.err.Error()
		r.log.Warn("DNS server failed its signed probe; switches to it would fail", "server", res.server, "err", res.err)
	}
	r.dns.mu.Lock()
	defer r.dns.mu.Unlock()
	if ctx.Err() != nil {
		return // shutting down: keep the last verdict
	}
	r.dns.failed = failed
	for srv := range r.dns.probed {
		if _, ok := zones[srv]; !ok {
			r.m.forgetDNSServer(srv)
		}
	}
	r.dns.probed = map[string]bool{}
	for srv := range zones {
		r.dns.probed[srv] = true
	}
}

// watchDNS probes the DNS servers every probe interval (the shortest of
// them) until the receiver shuts down; a reloaded configuration takes
// effect at the next round.
func (r *Receiver) watchDNS() {
	for {
		every := time.Duration(0)
		for _, s := range r.Config().DNSServers {
			if p := s.Probe(); p > 0 && (every == 0 || p < every) {
				every = p
			}
		}
		if every == 0 {
			every = config.DefaultDNSProbeInterval // none probed now; look again after a reload
		}
		select {
		case <-r.ctx.Done():
			return
		case <-time.After(every):
		}
		r.probeDNS(r.ctx)
	}
}

// dnsProblem says why the DNS servers keep the receiver from being ready,
// or "" when every probed server passed its last probe.
func (r *Receiver) dnsProblem() string {
	r.dns.mu.Lock()
	defer r.dns.mu.Unlock()
	var lines []string
	for srv, why := range r.dns.failed {
		lines = append(lines, fmt.Sprintf("DNS server %s failed its signed probe: %s", srv, why))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
