package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

// DNS switches and reads a service's RRset (receiver/live: package
// dnsupdate).
type DNS interface {
	// Replace replaces the A/AAAA RRset of name with addrs in one UPDATE and
	// verifies it by querying the server.
	Replace(ctx context.Context, server config.DNSServer, zone, name string, ttl uint32, addrs []netip.Addr) error
	// Lookup returns the addresses the server holds for name.
	Lookup(ctx context.Context, server config.DNSServer, zone, name string) ([]netip.Addr, error)
}

// Switch points the service's DNS name at the endpoint with one UPDATE. It
// journals "switch started" before sending and "switch done" after the
// change is verified. A resumed incident whose switch had started first asks
// the server whether the RRset already holds the endpoint, and only sends
// again if not. The journal write before the UPDATE is fenced: a replica
// that lost the incident never sends it.
type Switch struct {
	DNS     DNS
	Clock   Clock
	Updates *prometheus.CounterVec // vcr_dns_updates_total{service,result}
	// Slots bounds the switches in flight to one DNS server
	// (dns_servers[].max_concurrent_updates); nil: no bound.
	Slots *Limiter
}

func (Switch) Phase() string    { return api.PhaseSwitch }
func (Switch) State() api.State { return api.StateSwitching }

func (s Switch) Exec(ctx context.Context, a Attempt) error {
	inc, cfg, svc := a.Incident, a.Config, a.Service
	if inc.Endpoint == nil {
		return &Stop{State: api.StateFailed, Msg: "switch: no endpoint recorded by prepare"}
	}
	if s.DNS == nil {
		return errors.New("no DNS updater available in this receiver")
	}
	srv := cfg.DNSServer(svc.DNS.Server)
	if srv == nil {
		return &Stop{State: api.StateFailed, Msg: "dns server " + svc.DNS.Server + " is no longer configured"}
	}
	target, err := netip.ParseAddr(inc.Endpoint.Address)
	if err != nil {
		return &Stop{State: api.StateFailed, Msg: "switch: endpoint address " + inc.Endpoint.Address + " is not an IP address"}
	}
	if s.Slots != nil {
		start := time.Now()
		release, waited, err := s.Slots.Acquire(ctx, "dns:"+srv.Name, srv.MaxConcurrentUpdates, RankOf(svc.Priority, svc.Name))
		if err != nil {
			return err
		}
		defer release()
		if waited {
			a.Note(fmt.Sprintf("waited %s for one of the %d update slots of DNS server %s (dns_servers[].max_concurrent_updates)",
				time.Since(start).Round(time.Millisecond), srv.MaxConcurrentUpdates, srv.Name))
		}
	}
	// The timeout starts once the slot is ours: waiting is not the
	// server's slowness.
	sctx, cancel := context.WithTimeout(ctx, cfg.Pipeline.SwitchTimeout)
	defer cancel()
	current, lerr := s.DNS.Lookup(sctx, *srv, svc.DNS.Zone, svc.DNS.Name)
	if lerr != nil {
		a.Note("could not read the current RRset: " + lerr.Error())
	}
	if inc.DNS != nil && inc.DNS.SwitchStartedAt != nil && lerr == nil && slices.Equal(current, []netip.Addr{target}) {
		a.Note("the switch had been sent before a restart and DNS already points at " + target.String() + "; not sending it again")
		return s.switched(ctx, a, target)
	}
	now := s.Clock.Now()
	ev := journal.Event{Time: now, Kind: "dns-update", IncidentID: inc.ID, Service: inc.Service,
		Message: fmt.Sprintf("replace %s A/AAAA with %s at %s", svc.DNS.Name, target, srv.Address)}
	_, err = a.Held.Update(ctx, []journal.Event{ev}, func(inc *api.Incident) {
		if inc.DNS == nil {
			inc.DNS = &api.DNSChange{Name: svc.DNS.Name, Zone: svc.DNS.Zone}
			if lerr == nil {
				inc.DNS.Before = addrStrings(current)
			}
		}
		if inc.DNS.SwitchStartedAt == nil {
			inc.DNS.SwitchStartedAt = &now
		}
	})
	if err != nil {
		return fmt.Errorf("journal switch start (nothing sent): %w", err)
	}
	if err := s.DNS.Replace(sctx, *srv, svc.DNS.Zone, svc.DNS.Name, svc.DNS.TTL, []netip.Addr{target}); err != nil {
		s.Updates.WithLabelValues(inc.Service, "error").Inc()
		return fmt.Errorf("dns update of %s: %w", svc.DNS.Name, err)
	}
	s.Updates.WithLabelValues(inc.Service, "success").Inc()
	a.Note(fmt.Sprintf("%s now points at %s (TTL %d)", svc.DNS.Name, target, svc.DNS.TTL))
	return s.switched(ctx, a, target)
}

// switched journals "switch done" and, for a failback, has vcr-sync resume
// the data's usual direction (datasync.go). A resume that fails is retried
// with the stage; DNS, already pointing at the primary, is not sent again.
func (s Switch) switched(ctx context.Context, a Attempt, target netip.Addr) error {
	if err := s.markSwitched(ctx, a.Held, target); err != nil {
		return err
	}
	if a.Incident.Kind == api.KindFailback {
		if err := resumeData(ctx, a); err != nil {
			return fmt.Errorf("DNS points at the primary, but the data sync did not resume: %w", err)
		}
	}
	return nil
}

func (Switch) Describe(run Intent) string {
	d := run.Service.DNS
	words := "point " + d.Name + " at the endpoint with one TSIG-signed UPDATE to DNS server " + d.Server + " (TTL " + strconv.Itoa(int(d.TTL)) + ")"
	if run.Kind == api.KindFailback && run.Service.Sync != nil {
		words += "; then vcr-sync resumes (the standby follows the primary again)"
	}
	return words
}

// markSwitched journals "switch done": DNS points at target.
func (s Switch) markSwitched(ctx context.Context, h Held, target netip.Addr) error {
	now := s.Clock.Now()
	_, err := h.Update(ctx, nil, func(inc *api.Incident) {
		if inc.DNS == nil {
			inc.DNS = &api.DNSChange{}
		}
		inc.DNS.After = []string{target.String()}
		inc.DNS.SwitchedAt = &now
	})
	return err
}

func addrStrings(addrs []netip.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}
