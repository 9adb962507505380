package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// Finalize runs the strategy's clean-up once DNS points at the new endpoint
// (scale-up removes the source copy here, never earlier). Its failure
// leaves the incident resolved with an error saying the clean-up failed.
type Finalize struct {
	Strategies Strategies
}

func (Finalize) Phase() string    { return api.PhaseFinalize }
func (Finalize) State() api.State { return api.StateFinalizing }

func (f Finalize) Exec(ctx context.Context, a Attempt) error {
	inc, cfg := a.Incident, a.Config
	if f.Strategies == nil {
		return errors.New("no strategy plugins available in this receiver")
	}
	st := strategyFor(inc, a.Service)
	fctx, cancel := context.WithTimeout(ctx, cfg.Plugins.Timeout)
	defer cancel()
	req := sdk.FinalizeRequest{IncidentID: inc.ID, Service: inc.Service, Settings: st.SettingsJSON, Shared: cfg.Shared()}
	if inc.Endpoint != nil {
		req.Endpoint = sdk.Endpoint{Address: inc.Endpoint.Address, Port: inc.Endpoint.Port, Details: inc.Endpoint.Details}
	}
	if err := f.Strategies.Finalize(fctx, st.Name, req); err != nil {
		return fmt.Errorf("strategy %s finalize: %w", st.Name, err)
	}
	a.Note("strategy " + st.Name + " finalized")
	return nil
}

func (Finalize) Describe(run Intent) string {
	st := strategyFor(api.Incident{Kind: run.Kind}, run.Service)
	if run.Kind == api.KindScaleUp {
		return "strategy plugin " + st.Name + " removes the source copy, now that DNS points at the target"
	}
	return "strategy plugin " + st.Name + " finalizes, now that DNS points at the target"
}
