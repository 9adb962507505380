package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// cancelCmd is `vcrctl incident cancel ID`.
func (a *app) cancelCmd() *cobra.Command {
	cmd := a.actionCmd(action{
		use:   "cancel ID",
		short: "Stop a running recovery and have its strategy undo what it prepared (refused once its DNS switch started)",
		ask:   askCancel,
		do:    func(ctx context.Context, c *api.Client, id string) (api.Incident, error) { return c.Cancel(ctx, id) },
		report: func(inc api.Incident, waited bool) error {
			if !waited {
				fmt.Fprintf(a.stdout, "%s: cancel of incident %s requested; it stops at its next step and undoes what it prepared (follow with: vcrctl show %s)\n", inc.Service, inc.ID, inc.ID)
				return nil
			}
			if err := writeIncident(a.stdout, a.now(), &inc); err != nil {
				return err
			}
			if ab := inc.Phase(api.PhaseAbort); ab != nil && ab.Outcome == api.OutcomeFailed {
				return fmt.Errorf("incident %s was cancelled, but undoing it failed: %s", inc.ID, ab.Error)
			}
			return nil
		},
	})
	cmd.Long = `cancel asks the receiver to stop incident ID. The receiver journals the request, stops the
recovery at its next step, has the strategy undo what prepare did (scale-up un-freezes its source,
cold removes what it restored, warm leaves its container running) and ends the incident failed.
The incident then holds its service until acknowledged (vcrctl ack ID), as any failed one does.
Once the DNS switch has started the receiver refuses: clients may already reach the new endpoint.`
	return cmd
}

// askCancel is the confirmation of a cancel: what stops and what is undone.
// A recovery that cannot be cancelled is refused here already, in the
// receiver's words.
func askCancel(ctx context.Context, c *api.Client, id string) (string, []string, error) {
	inc, err := c.Incident(ctx, id)
	if err != nil {
		return "", nil, err
	}
	switch {
	case !inc.State.Running():
		return "", nil, fmt.Errorf("refused: incident %s is %s: there is no running recovery to cancel", id, inc.State)
	case inc.State == api.StateAborting:
		return "", nil, fmt.Errorf("refused: incident %s is already being undone: wait for it to end", id)
	case inc.SwitchBegun():
		return "", nil, fmt.Errorf("refused: incident %s can no longer be cancelled: its DNS switch has started, so clients may already reach the new endpoint; let it finish, then move the service back with a failback if needed", id)
	}
	lines := []string{"the recovery stops at its next step"}
	if ph := inc.Phase(api.PhasePrepare); ph != nil && ph.Outcome != api.OutcomeSkipped && inc.Kind != api.KindFailback {
		lines = append(lines, "strategy plugin "+inc.Strategy+" undoes what prepare did")
	} else {
		lines = append(lines, "nothing was prepared yet: nothing to undo")
	}
	lines = append(lines, "the incident ends failed and holds "+inc.Service+" until acknowledged (vcrctl ack "+id+")")
	return fmt.Sprintf("Cancel incident %s (%s of %s, now %s)?", id, inc.Kind, inc.Service, inc.State), lines, nil
}
