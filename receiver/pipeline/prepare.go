package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
)

// Strategies runs strategy plugins by name (plugins/manager).
type Strategies interface {
	Prepare(ctx context.Context, name string, req sdk.PrepareRequest, progress sdk.ProgressFunc) (sdk.Endpoint, error)
	Finalize(ctx context.Context, name string, req sdk.FinalizeRequest) error
	// Abort undoes Prepare; through a plugin built for protocol 1 it fails
	// with an error wrapping sdk.ErrUnsupported.
	Abort(ctx context.Context, name string, req sdk.AbortRequest) error
	ValidateConfig(ctx context.Context, name string, req sdk.ValidateRequest) error
}

// Prepare has the incident's strategy plugin make the service available on
// its target and records the endpoint it returns; the plugin's progress
// lines become the phase's messages. A failback's endpoint is the primary,
// so it asks no plugin; a service whose data vcr-sync keeps has it reversed
// first (datasync.go).
type Prepare struct {
	Strategies Strategies
	// Slots bounds the prepares running on one standby
	// (pipeline.max_concurrent_prepares); nil: no bound.
	Slots *Limiter
}

func (Prepare) Phase() string    { return api.PhasePrepare }
func (Prepare) State() api.State { return api.StatePreparing }

func (p Prepare) Exec(ctx context.Context, a Attempt) error {
	inc, svc := a.Incident, a.Service
	if inc.Kind == api.KindFailback {
		if err := reverseData(ctx, a); err != nil {
			return fmt.Errorf("reverse the data sync before the switch: %w", err)
		}
		ep := api.Endpoint{Address: svc.Primary.Address, Port: svc.Primary.Port}
		a.Note("failback target is the primary at " + hostPort(ep.Address, ep.Port))
		_, err := a.Held.Update(ctx, nil, func(inc *api.Incident) { inc.Endpoint = &ep })
		return err
	}
	if p.Strategies == nil {
		return errors.New("no strategy plugins available in this receiver")
	}
	st := strategyFor(inc, svc)
	if p.Slots != nil {
		target, limit, start := st.Target(), a.Config.Pipeline.MaxConcurrentPrepares, time.Now()
		release, waited, err := p.Slots.Acquire(ctx, target, limit, RankOf(svc.Priority, svc.Name))
		if err != nil {
			return err
		}
		defer release()
		if waited {
			a.Note(fmt.Sprintf("waited %s for one of the %d prepare slots on %s (pipeline.max_concurrent_prepares)",
				time.Since(start).Round(time.Millisecond), limit, target))
		}
	}
	req := sdk.PrepareRequest{
		IncidentID: inc.ID,
		Service:    inc.Service,
		Reason:     inc.Reason,
		Settings:   st.SettingsJSON,
		Shared:     a.Config.Shared(),
		Labels:     inc.Labels,
	}
	pctx, cancel := context.WithTimeout(ctx, a.Config.Plugins.Timeout)
	defer cancel()
	ep, err := p.Strategies.Prepare(pctx, st.Name, req, func(pr sdk.Progress) { a.Note(pr.Message) })
	if errors.Is(err, sdk.ErrNeedsAttention) {
		// The strategy says retrying cannot help (no room on the
		// standby): an operator decides, the incident waits for them.
		return &Stop{State: api.StateNeedsAttention, Msg: "prepare: " + err.Error()}
	}
	if err != nil {
		return fmt.Errorf("strategy %s: %w", st.Name, err)
	}
	if _, perr := netip.ParseAddr(ep.Address); perr != nil || ep.Port < 1 || ep.Port > 65535 {
		return fmt.Errorf("strategy %s returned an unusable endpoint %q port %d; the plugin must return an IP address and a port", st.Name, ep.Address, ep.Port)
	}
	a.Note("endpoint " + hostPort(ep.Address, ep.Port))
	_, err = a.Held.Update(ctx, nil, func(inc *api.Incident) {
		inc.Endpoint = &api.Endpoint{Address: ep.Address, Port: ep.Port, Details: ep.Details}
	})
	return err
}

func (Prepare) Describe(run Intent) string {
	svc := run.Service
	if run.Kind == api.KindFailback {
		d := "the target is the primary at " + hostPort(svc.Primary.Address, svc.Primary.Port) + "; no plugin runs"
		if svc.Sync != nil {
			d += "; vcr-sync first reverses the data (the primary catches up from the standby)"
		}
		return d
	}
	st := strategyFor(api.Incident{Kind: run.Kind}, svc)
	return "strategy plugin " + st.Name + " brings " + svc.Name + " up on its target and returns the endpoint"
}

// strategyFor is the plugin an incident uses: the service's scale-up
// strategy for a scale-up, its strategy otherwise.
func strategyFor(inc api.Incident, svc *config.Service) config.Strategy {
	if inc.Kind == api.KindScaleUp && svc.ScaleUp != nil {
		return *svc.ScaleUp
	}
	return svc.Strategy
}
