package example

import (
	"context"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// Abort implements sdk.Strategy: it runs settings.abort_command if set, with
// VCR_ABORT_REASON added to the environment. The command undoes what
// settings.command did; like every strategy call it may run more than once
// for an incident, and without a Prepare before it, so it must check before
// it removes anything. Without abort_command there is nothing to undo.
func (Strategy) Abort(ctx context.Context, req sdk.AbortRequest) error {
	s, err := ParseSettings(req.Settings)
	if err != nil {
		return err
	}
	if len(s.AbortCommand) == 0 {
		return nil
	}
	env := append(commandEnv(req.IncidentID, req.Service, ""), "VCR_ABORT_REASON="+req.Reason)
	_, err = run(ctx, s.AbortCommand, s.timeout, env, func(sdk.Progress) {})
	return err
}
