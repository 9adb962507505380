package receiver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
	"github.com/vcrcovery/vcrcovery/receiver/ownership"
)

// maxNotesPerAttempt bounds the messages one phase attempt keeps.
const maxNotesPerAttempt = 100

// stopError ends the pipeline at once, without retries, in the given state.
type stopError struct {
	state api.State
	msg   string
}

func (e *stopError) Error() string { return e.msg }

// phaseFunc does one attempt of a phase. note adds a message to the phase
// record (journaled with the phase's next transition).
type phaseFunc func(ctx context.Context, note func(string)) error

type phaseSpec struct {
	name  string
	state api.State
	fn    phaseFunc
	skip  string // non-empty: record the phase as skipped with this reason
}

// run drives one incident from its last completed phase to the end.
func (r *Receiver) run(ctx context.Context, id string) {
	inc, ok := r.snapshot(id)
	if !ok {
		return
	}
	log := r.log.With("incident", id, "service", inc.Service, "kind", inc.Kind)
	cfg := r.Config()
	svc := cfg.Service(inc.Service)
	if svc == nil {
		r.finish(ctx, id, api.StateFailed, "service "+inc.Service+" is no longer in the configuration; restore it and run a manual failover if still needed")
		return
	}
	for _, p := range r.phases(inc) {
		cur, _ := r.snapshot(id)
		if ph := cur.Phase(p.name); ph != nil && (ph.Outcome == api.OutcomeOK || ph.Outcome == api.OutcomeSkipped) {
			continue // done before a restart: never redo it
		}
		if p.skip != "" {
			if err := r.skipPhase(ctx, id, p.name, p.skip); err != nil {
				log.Warn("journal phase skip", "phase", p.name, "err", err)
				return
			}
			continue
		}
		err := r.runPhase(ctx, id, p)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			log.Info("pipeline stopped; the incident resumes at the next start", "phase", p.name)
			return
		}
		if errors.Is(err, ownership.ErrNotOwner) {
			log.Warn("lost ownership of the incident: stopping without writing or switching anything; another replica resumes it", "phase", p.name, "err", err)
			r.release(ctx, id)
			return
		}
		if errors.Is(err, ownership.ErrUnavailable) {
			// etcd did not answer (no quorum, timeout). The incident stays
			// as last journaled; it is adopted again (by this replica while
			// its lease lasts, else by another) once etcd answers.
			log.Warn("journal unavailable: pausing the incident until etcd answers", "phase", p.name, "err", err)
			r.release(ctx, id)
			return
		}
		var stop *stopError
		if errors.As(err, &stop) {
			log.Warn("incident stopped", "phase", p.name, "state", stop.state, "reason", stop.msg)
			r.finish(ctx, id, stop.state, stop.msg)
			return
		}
		if p.name == api.PhaseFinalize {
			// DNS already points at the new endpoint: the service is
			// recovered, only the clean-up failed.
			log.Warn("finalize failed after DNS switched", "err", err)
			r.finishResolved(ctx, id, "recovered, but finalize failed: "+err.Error())
			return
		}
		log.Error("phase failed; incident failed", "phase", p.name, "err", err)
		r.finish(ctx, id, api.StateFailed, p.name+" failed: "+err.Error())
		return
	}
	r.finishResolved(ctx, id, "")
	log.Info("incident resolved")
}

// phases lists what an incident of this kind runs, in order.
func (r *Receiver) phases(inc api.Incident) []phaseSpec {
	fence := phaseSpec{name: api.PhaseFence, state: api.StateFencing, fn: r.fence(inc.ID)}
	prepare := phaseSpec{name: api.PhasePrepare, state: api.StatePreparing, fn: r.prepare(inc.ID)}
	finalize := phaseSpec{name: api.PhaseFinalize, state: api.StateFinalizing, fn: r.finalize(inc.ID)}
	switch inc.Kind {
	case api.KindDrill:
		fence.skip = "drill: the primary is healthy and stays up"
	case api.KindScaleUp:
		fence.skip = "scale-up: the service is moving off the standby, which keeps serving until DNS switches"
	case api.KindFailback:
		fence.skip = "failback: the primary is the target"
		finalize.skip = "failback: nothing to clean up"
	}
	return []phaseSpec{
		fence,
		prepare,
		{name: api.PhaseVerify, state: api.StateVerifying, fn: r.verify(inc.ID)},
		{name: api.PhaseSwitch, state: api.StateSwitching, fn: r.switchDNS(inc.ID)},
		finalize,
	}
}

// runPhase journals the phase start, runs attempts with bounded exponential
// backoff, and journals the outcome. Errors from a cancelled ctx leave the
// phase "running" in the journal so it is resumed, not failed.
func (r *Receiver) runPhase(ctx context.Context, id string, p phaseSpec) error {
	cfg := r.Config()
	maxAttempts := cfg.Pipeline.MaxAttempts
	backoff := cfg.Pipeline.Backoff
	var notes []string
	dropped := 0
	note := func(s string) {
		// A chatty plugin must not grow the incident without bound.
		if len(notes) >= maxNotesPerAttempt {
			dropped++
			return
		}
		notes = append(notes, s)
	}
	started := r.clock.Now()
	for attempt := 1; ; attempt++ {
		_, err := r.update(ctx, id, nil, func(inc *api.Incident) {
			inc.State = p.state
			ph := inc.Phase(p.name)
			if ph == nil {
				inc.Phases = append(inc.Phases, api.Phase{Name: p.name, StartedAt: started})
				ph = &inc.Phases[len(inc.Phases)-1]
			}
			ph.Outcome = api.OutcomeRunning
			ph.Attempts++
			ph.Messages = append(ph.Messages, notes...)
		})
		notes = nil
		if err != nil {
			return fmt.Errorf("journal %s start: %w", p.name, err)
		}
		err = p.fn(ctx, note)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ownership.ErrNotOwner) || errors.Is(err, ownership.ErrUnavailable) {
			return err // not the phase's fault: retrying it would not help
		}
		var stop *stopError
		if err != nil && !errors.As(err, &stop) && attempt < maxAttempts {
			note(fmt.Sprintf("attempt %d failed: %v; retrying in %s", attempt, err, backoff))
			if serr := r.clock.Sleep(ctx, backoff); serr != nil {
				return serr
			}
			backoff = min(backoff*2, cfg.Pipeline.MaxBackoff)
			continue
		}
		end := r.clock.Now()
		outcome, msg := api.OutcomeOK, ""
		if err != nil {
			outcome, msg = api.OutcomeFailed, err.Error()
		}
		if dropped > 0 {
			notes = append(notes, fmt.Sprintf("(%d more messages dropped)", dropped))
		}
		snap, jerr := r.update(ctx, id, nil, func(inc *api.Incident) {
			ph := inc.Phase(p.name)
			ph.Outcome, ph.Error = outcome, msg
			ph.EndedAt = &end
			ph.DurationSeconds = end.Sub(ph.StartedAt).Seconds()
			ph.Messages = append(ph.Messages, notes...)
		})
		if jerr != nil && err == nil {
			return fmt.Errorf("journal %s end: %w", p.name, jerr)
		}
		if err == nil {
			if ph := snap.Phase(p.name); ph != nil {
				r.m.phaseDuration.WithLabelValues(p.name).Observe(ph.DurationSeconds)
			}
		}
		return err
	}
}

func (r *Receiver) skipPhase(ctx context.Context, id, name, why string) error {
	now := r.clock.Now()
	_, err := r.update(ctx, id, nil, func(inc *api.Incident) {
		inc.Phases = append(inc.Phases, api.Phase{Name: name, StartedAt: now, EndedAt: &now, Outcome: api.OutcomeSkipped, Messages: []string{why}})
	})
	return err
}

func (r *Receiver) finish(ctx context.Context, id string, state api.State, msg string) {
	now := r.clock.Now()
	snap, err := r.update(context.WithoutCancel(ctx), id, nil, func(inc *api.Incident) {
		inc.State, inc.Error = state, msg
		inc.ClosedAt = &now
	})
	if errors.Is(err, ownership.ErrNotOwner) || errors.Is(err, ownership.ErrUnavailable) {
		r.log.Warn("could not journal the incident's end; it is resumed from its last journaled state", "incident", id, "err", err)
		r.release(ctx, id)
		return
	}
	if err != nil {
		r.log.Error("journal incident end", "incident", id, "err", err)
	}
	r.m.recoveries.WithLabelValues(snap.Service, snap.Strategy, string(state)).Inc()
}

func (r *Receiver) finishResolved(ctx context.Context, id string, msg string) {
	r.finish(ctx, id, api.StateResolved, msg)
}

// context helpers ------------------------------------------------------------

func (r *Receiver) service(id string) (api.Incident, *config.Config, *config.Service, error) {
	inc, ok := r.snapshot(id)
	if !ok {
		return inc, nil, nil, &stopError{state: api.StateFailed, msg: "incident " + id + " vanished from memory"}
	}
	cfg := r.Config()
	svc := cfg.Service(inc.Service)
	if svc == nil {
		return inc, cfg, nil, &stopError{state: api.StateFailed, msg: "service " + inc.Service + " is no longer configured"}
	}
	return inc, cfg, svc, nil
}

// fence ----------------------------------------------------------------------

func (r *Receiver) fence(id string) phaseFunc {
	return func(ctx context.Context, note func(string)) error {
		_, cfg, svc, err := r.service(id)
		if err != nil {
			return err
		}
		pr := svc.Primary
		fenced := false
		switch {
		case pr.Host.Socket == "":
			note("no libvirt host configured for the primary; waiting the grace period " + svc.Fencing.Grace().String())
			if err := r.clock.Sleep(ctx, svc.Fencing.Grace()); err != nil {
				return err
			}
		case r.opts.Fencer == nil:
			return errors.New("no fencer available in this receiver")
		default:
			fctx, cancel := context.WithTimeout(ctx, cfg.Pipeline.FenceTimeout)
			what, err := r.opts.Fencer.Fence(fctx, pr.Host, pr.Domain, pr.UUID)
			cancel()
			switch {
			case err == nil:
				fenced = true
				note("primary " + domainLabel(pr) + ": " + what)
			case errors.Is(err, ErrHostUnreachable):
				note(fmt.Sprintf("host unreachable (%v); waiting the grace period %s", err, svc.Fencing.Grace()))
				if err := r.clock.Sleep(ctx, svc.Fencing.Grace()); err != nil {
					return err
				}
			default:
				return fmt.Errorf("fence %s: %w", domainLabel(pr), err)
			}
		}
		if fenced {
			return nil
		}
		// Split-brain guard: an unfenced primary that still answers must
		// not lose its name to a second copy.
		addr := net2str(pr.Address, pr.Port)
		if r.opts.Prober == nil {
			return errors.New("no prober available for the split-brain guard")
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		answers := r.opts.Prober.Once(pctx, Check{Address: pr.Address, Port: pr.Port}) == nil
		cancel()
		switch {
		case !answers:
			note("primary does not answer on " + addr + "; safe to switch")
		case svc.Fencing.AllowSwitchWhilePrimaryAnswers:
			note("primary still answers on " + addr + " but fencing.allow_switch_while_primary_answers is set; switching anyway")
		default:
			return &stopError{state: api.StateNeedsAttention, msg: "the primary " + domainLabel(pr) + " could not be fenced and still answers on " + addr +
				"; not switching, to avoid two copies serving. Check the primary, then acknowledge this incident or run a manual failover"}
		}
		return nil
	}
}

func domainLabel(pr config.Primary) string {
	if pr.Domain != "" {
		return pr.Domain
	}
	return pr.UUID
}

func net2str(addr string, port int) string {
	return net.JoinHostPort(addr, strconv.Itoa(port))
}

// prepare --------------------------------------------------------------------

func (r *Receiver) prepare(id string) phaseFunc {
	return func(ctx context.Context, note func(string)) error {
		inc, cfg, svc, err := r.service(id)
		if err != nil {
			return err
		}
		if inc.Kind == api.KindFailback {
			ep := api.Endpoint{Address: svc.Primary.Address, Port: svc.Primary.Port}
			note("failback target is the primary at " + net2str(ep.Address, ep.Port))
			_, err := r.update(ctx, id, nil, func(inc *api.Incident) { inc.Endpoint = &ep })
			return err
		}
		if r.opts.Strategies == nil {
			return errors.New("no strategy plugins available in this receiver")
		}
		st := strategyFor(inc, svc)
		req := sdk.PrepareRequest{
			IncidentID: inc.ID,
			Service:    inc.Service,
			Reason:     inc.Reason,
			Settings:   st.SettingsJSON,
			Shared:     cfg.Shared(),
			Labels:     inc.Labels,
		}
		pctx, cancel := context.WithTimeout(ctx, cfg.Plugins.Timeout)
		defer cancel()
		ep, err := r.opts.Strategies.Prepare(pctx, st.Name, req, func(p sdk.Progress) { note(p.Message) })
		if err != nil {
			return fmt.Errorf("strategy %s: %w", st.Name, err)
		}
		if _, perr := netip.ParseAddr(ep.Address); perr != nil || ep.Port < 1 || ep.Port > 65535 {
			return fmt.Errorf("strategy %s returned an unusable endpoint %q port %d; the plugin must return an IP address and a port", st.Name, ep.Address, ep.Port)
		}
		note("endpoint " + net2str(ep.Address, ep.Port))
		_, err = r.update(ctx, id, nil, func(inc *api.Incident) {
			inc.Endpoint = &api.Endpoint{Address: ep.Address, Port: ep.Port, Details: ep.Details}
		})
		return err
	}
}

func strategyFor(inc api.Incident, svc *config.Service) config.Strategy {
	if inc.Kind == api.KindScaleUp && svc.ScaleUp != nil {
		return *svc.ScaleUp
	}
	return svc.Strategy
}

// verify ---------------------------------------------------------------------

func (r *Receiver) verify(id string) phaseFunc {
	return func(ctx context.Context, note func(string)) error {
		inc, _, svc, err := r.service(id)
		if err != nil {
			return err
		}
		if inc.Endpoint == nil {
			return &stopError{state: api.StateFailed, msg: "verify: no endpoint recorded by prepare"}
		}
		c := Check{Address: inc.Endpoint.Address, Port: inc.Endpoint.Port, HTTPPath: svc.Check.HTTPPath, ExpectStatus: svc.Check.ExpectStatus}
		if svc.Check.Port != 0 {
			c.Port = svc.Check.Port
		}
		if r.opts.Prober == nil {
			return errors.New("no prober available in this receiver")
		}
		vctx, cancel := context.WithTimeout(ctx, svc.Check.Timeout)
		defer cancel()
		if err := r.opts.Prober.Wait(vctx, c); err != nil {
			return fmt.Errorf("endpoint %s not ready: %w", net2str(c.Address, c.Port), err)
		}
		what := "TCP connect"
		if c.HTTPPath != "" {
			what = "HTTP GET " + c.HTTPPath + " = " + strconv.Itoa(c.ExpectStatus)
		}
		note("endpoint " + net2str(c.Address, c.Port) + " ready (" + what + ")")
		return nil
	}
}

// switch ---------------------------------------------------------------------

// switchDNS journals "switch started" before sending the UPDATE and
// "switch done" after it is verified. A resumed incident whose switch had
// started first asks the server whether the RRset already holds the
// endpoint, and only sends again if not.
func (r *Receiver) switchDNS(id string) phaseFunc {
	return func(ctx context.Context, note func(string)) error {
		inc, cfg, svc, err := r.service(id)
		if err != nil {
			return err
		}
		if inc.Endpoint == nil {
			return &stopError{state: api.StateFailed, msg: "switch: no endpoint recorded by prepare"}
		}
		if r.opts.DNS == nil {
			return errors.New("no DNS updater available in this receiver")
		}
		srv := cfg.DNSServer(svc.DNS.Server)
		if srv == nil {
			return &stopError{state: api.StateFailed, msg: "dns server " + svc.DNS.Server + " is no longer configured"}
		}
		target, err := netip.ParseAddr(inc.Endpoint.Address)
		if err != nil {
			return &stopError{state: api.StateFailed, msg: "switch: endpoint address " + inc.Endpoint.Address + " is not an IP address"}
		}
		sctx, cancel := context.WithTimeout(ctx, cfg.Pipeline.SwitchTimeout)
		defer cancel()
		current, lerr := r.opts.DNS.Lookup(sctx, *srv, svc.DNS.Zone, svc.DNS.Name)
		if lerr != nil {
			note("could not read the current RRset: " + lerr.Error())
		}
		if inc.DNS != nil && inc.DNS.SwitchStartedAt != nil && lerr == nil && slices.Equal(current, []netip.Addr{target}) {
			note("the switch had been sent before a restart and DNS already points at " + target.String() + "; not sending it again")
			return r.markSwitched(ctx, id, target)
		}
		now := r.clock.Now()
		ev := journal.Event{Time: now, Kind: "dns-update", IncidentID: id, Service: inc.Service,
			Message: fmt.Sprintf("replace %s A/AAAA with %s at %s", svc.DNS.Name, target, srv.Address)}
		_, err = r.update(ctx, id, []journal.Event{ev}, func(inc *api.Incident) {
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
		if err := r.opts.DNS.Replace(sctx, *srv, svc.DNS.Zone, svc.DNS.Name, svc.DNS.TTL, []netip.Addr{target}); err != nil {
			r.m.dnsUpdates.WithLabelValues(inc.Service, "error").Inc()
			return fmt.Errorf("dns update of %s: %w", svc.DNS.Name, err)
		}
		r.m.dnsUpdates.WithLabelValues(inc.Service, "success").Inc()
		note(fmt.Sprintf("%s now points at %s (TTL %d)", svc.DNS.Name, target, svc.DNS.TTL))
		return r.markSwitched(ctx, id, target)
	}
}

func (r *Receiver) markSwitched(ctx context.Context, id string, target netip.Addr) error {
	now := r.clock.Now()
	_, err := r.update(ctx, id, nil, func(inc *api.Incident) {
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

// finalize -------------------------------------------------------------------

func (r *Receiver) finalize(id string) phaseFunc {
	return func(ctx context.Context, note func(string)) error {
		inc, cfg, svc, err := r.service(id)
		if err != nil {
			return err
		}
		if r.opts.Strategies == nil {
			return errors.New("no strategy plugins available in this receiver")
		}
		st := strategyFor(inc, svc)
		fctx, cancel := context.WithTimeout(ctx, cfg.Plugins.Timeout)
		defer cancel()
		req := sdk.FinalizeRequest{IncidentID: inc.ID, Service: inc.Service, Settings: st.SettingsJSON, Shared: cfg.Shared()}
		if inc.Endpoint != nil {
			req.Endpoint = sdk.Endpoint{Address: inc.Endpoint.Address, Port: inc.Endpoint.Port, Details: inc.Endpoint.Details}
		}
		if err := r.opts.Strategies.Finalize(fctx, st.Name, req); err != nil {
			return fmt.Errorf("strategy %s finalize: %w", st.Name, err)
		}
		note("strategy " + st.Name + " finalized")
		return nil
	}
}
