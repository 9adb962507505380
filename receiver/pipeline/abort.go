package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// Abort asks the incident's strategy to undo what Prepare did, when the
// recovery cannot complete: a phase after prepare failed for good, or an
// operator cancelled it. Scale-up un-freezes its source and removes the
// partial target, cold removes what it imported in this incident, warm
// leaves its container running. It is not in the lists of Stages: the
// runner runs it from undo, and it ends the incident failed.
//
// A plugin built for protocol 1 has no Abort: the phase is recorded as
// skipped with the reason, and what Prepare started stays as it is.
type Abort struct {
	Strategies Strategies
	DNS        DNS
}

func (Abort) Phase() string    { return api.PhaseAbort }
func (Abort) State() api.State { return api.StateAborting }

func (s Abort) Exec(ctx context.Context, a Attempt) error {
	inc, cfg := a.Incident, a.Config
	if inc.DNS != nil && inc.DNS.SwitchedAt != nil {
		return &SkipError{Reason: "DNS switched to the new endpoint: the service runs there; nothing undone"}
	}
	if err := s.dnsUnchanged(ctx, a); err != nil {
		return err
	}
	if s.Strategies == nil {
		return errors.New("no strategy plugins available in this receiver")
	}
	st := strategyFor(inc, a.Service)
	req := sdk.AbortRequest{IncidentID: inc.ID, Service: inc.Service, Reason: inc.Error, Settings: st.SettingsJSON, Shared: cfg.Shared()}
	if inc.Endpoint != nil {
		req.Endpoint = sdk.Endpoint{Address: inc.Endpoint.Address, Port: inc.Endpoint.Port, Details: inc.Endpoint.Details}
	}
	actx, cancel := context.WithTimeout(ctx, cfg.Plugins.Timeout)
	defer cancel()
	err := s.Strategies.Abort(actx, st.Name, req)
	if errors.Is(err, sdk.ErrUnsupported) {
		// "Abort is not supported by this plugin (protocol v1): rebuild..."
		var unsupported *sdk.UnsupportedError
		if errors.As(err, &unsupported) {
			err = unsupported
		}
		return &SkipError{Reason: fmt.Sprintf("strategy %s: %v; what prepare started stays as it is", st.Name, err)}
	}
	if err != nil {
		return fmt.Errorf("strategy %s abort: %w", st.Name, err)
	}
	a.Note("strategy " + st.Name + " undid prepare")
	return nil
}

func (Abort) Describe(run Intent) string {
	if run.Kind == api.KindFailback {
		return "nothing to undo: prepare asks no plugin"
	}
	st := strategyFor(api.Incident{Kind: run.Kind}, run.Service)
	return "only if the recovery fails or is cancelled before DNS switched: strategy plugin " + st.Name + " undoes what prepare did"
}

// dnsUnchanged makes sure a failed switch left DNS where it was before
// prepare is undone: an UPDATE that reached the server although the switch
// reported an error would otherwise point the name at what Abort removes.
// Nothing to check when the switch never started.
func (s Abort) dnsUnchanged(ctx context.Context, a Attempt) error {
	inc, cfg, svc := a.Incident, a.Config, a.Service
	if inc.DNS == nil || inc.DNS.SwitchStartedAt == nil || inc.Endpoint == nil {
		return nil
	}
	target, err := netip.ParseAddr(inc.Endpoint.Address)
	if err != nil {
		return nil // never sent: the switch refuses such an endpoint
	}
	srv := cfg.DNSServer(svc.DNS.Server)
	if s.DNS == nil || srv == nil {
		return fmt.Errorf("cannot ask the DNS server whether %s points at %s: no DNS updater or server %q; prepare not undone", svc.DNS.Name, target, svc.DNS.Server)
	}
	lctx, cancel := context.WithTimeout(ctx, cfg.Pipeline.SwitchTimeout)
	defer cancel()
	current, err := s.DNS.Lookup(lctx, *srv, svc.DNS.Zone, svc.DNS.Name)
	if err != nil {
		return fmt.Errorf("cannot confirm that the failed switch left %s unchanged (prepare not undone until it can): %w", svc.DNS.Name, err)
	}
	if slices.Contains(current, target) {
		return &SkipError{Reason: fmt.Sprintf("%s points at %s although the switch reported an error: the service runs at the new endpoint, so prepare is not undone; check DNS and the service, then acknowledge the incident", svc.DNS.Name, target)}
	}
	a.Note(fmt.Sprintf("%s still points at %s: undoing prepare", svc.DNS.Name, strings.Join(addrStrings(current), ", ")))
	return nil
}
