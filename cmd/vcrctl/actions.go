package main

// The operator's runs: failover, drill, failback, incident retry and ack
// (incident cancel is in cancel.go).
// Each run that moves a service asks first, listing the phases the
// receiver's plan says will run.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// action is one operator's run: ask says what to confirm before do runs
// (nil: do runs without asking); report, when set, prints the outcome
// instead of the default line (waited: after --wait).
type action struct {
	use, short string
	ask        func(ctx context.Context, c *api.Client, arg string) (question string, lines []string, err error)
	do         func(ctx context.Context, c *api.Client, arg string) (api.Incident, error)
	report     func(inc api.Incident, waited bool) error
}

func (a *app) failoverCmd() *cobra.Command {
	var force bool
	cmd := a.actionCmd(action{
		use:   "failover SERVICE",
		short: "Fail SERVICE over to its standby: fence its primary, bring it up, verify, switch DNS",
		ask: func(ctx context.Context, c *api.Client, svc string) (string, []string, error) {
			return askPlan(ctx, c, svc, api.KindManualFailover, force, "Fail "+svc+" over to its standby?")
		},
		do: func(ctx context.Context, c *api.Client, svc string) (api.Incident, error) {
			return c.Failover(ctx, svc, force)
		},
	})
	cmd.Flags().BoolVar(&force, "force", false, "switch even while an unfenced primary still answers (turns the split-brain guard off for this run)")
	return cmd
}

func (a *app) drillCmd() *cobra.Command {
	return a.actionCmd(action{
		use:   "drill SERVICE",
		short: "Rehearse a failover of SERVICE: its healthy primary is not fenced and keeps running",
		ask: func(ctx context.Context, c *api.Client, svc string) (string, []string, error) {
			return askPlan(ctx, c, svc, api.KindDrill, false, "Run a failover drill of "+svc+"?")
		},
		do: func(ctx context.Context, c *api.Client, svc string) (api.Incident, error) { return c.Drill(ctx, svc) },
	})
}

func (a *app) failbackCmd() *cobra.Command {
	return a.actionCmd(action{
		use:   "failback SERVICE",
		short: "Switch SERVICE back to its primary once the primary is healthy",
		ask: func(ctx context.Context, c *api.Client, svc string) (string, []string, error) {
			return askPlan(ctx, c, svc, api.KindFailback, false, "Fail "+svc+" back to its primary?")
		},
		do: func(ctx context.Context, c *api.Client, svc string) (api.Incident, error) {
			return c.Failback(ctx, svc)
		},
	})
}

// retryCmd is `vcrctl incident retry ID`.
func (a *app) retryCmd() *cobra.Command {
	return a.actionCmd(action{
		use:   "retry ID",
		short: "Resume a failed incident from the phase that failed (completed phases, and a switch that was done, are not redone)",
		ask:   askRetry,
		do:    func(ctx context.Context, c *api.Client, id string) (api.Incident, error) { return c.Retry(ctx, id) },
	})
}

func (a *app) ackCmd() *cobra.Command {
	cmd := a.actionCmd(action{
		use:   "ack ID",
		short: "Acknowledge a failed or needs-attention incident, freeing its service",
		do: func(ctx context.Context, c *api.Client, id string) (api.Incident, error) {
			return c.Acknowledge(ctx, id)
		},
	})
	cmd.Aliases = []string{"acknowledge"}
	return cmd
}

// askPlan is the confirmation of a run: the question and the receiver's
// plan for it, phase by phase.
func askPlan(ctx context.Context, c *api.Client, svc string, kind api.Kind, force bool, question string) (string, []string, error) {
	plan, err := c.Plan(ctx, svc, kind, force)
	if err != nil {
		return "", nil, err
	}
	return question, plan.Lines(), nil
}

// askRetry is the confirmation of a retry: the phases still to run, from
// the failed one on (from prepare on when the abort undid prepare), in the
// words of the incident kind's plan.
func askRetry(ctx context.Context, c *api.Client, id string) (string, []string, error) {
	inc, err := c.Incident(ctx, id)
	if err != nil {
		return "", nil, err
	}
	if inc.State != api.StateFailed {
		return "", nil, fmt.Errorf("refused: incident %s is %s: only a failed incident can be retried", id, inc.State)
	}
	plan, err := c.Plan(ctx, inc.Service, inc.Kind, inc.Force)
	if err != nil {
		return "", nil, err
	}
	var lines, done []string
	undone := inc.Undone()
	for i, step := range plan.Steps {
		if undone && step.Phase != api.PhaseFence {
			lines = append(lines, plan.Lines()[i])
			continue
		}
		if ph := inc.Phase(step.Phase); ph != nil && (ph.Outcome == api.OutcomeOK || ph.Outcome == api.OutcomeSkipped) {
			done = append(done, step.Phase)
			continue
		}
		lines = append(lines, plan.Lines()[i])
	}
	if len(done) > 0 {
		lines = append(lines, "already done, not run again: "+strings.Join(done, ", "))
	}
	if undone {
		lines = append(lines, "the abort undid prepare: it runs again, with what follows it")
	}
	return fmt.Sprintf("Resume incident %s (%s of %s), which failed: %s?", id, inc.Kind, inc.Service, orDash(inc.Error)), lines, nil
}

// actionCmd builds one run's command. It asks before the run unless
// --yes; with --wait it follows the incident until the pipeline stops and
// then shows it.
func (a *app) actionCmd(act action) *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   act.use,
		Short: act.short,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("want 1 argument(s), got %d: usage: %s", len(args), cmd.UseLine())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if act.ask != nil && !a.yes {
				question, lines, err := act.ask(cmd.Context(), c, args[0])
				if err != nil {
					return refused(err)
				}
				if err := a.confirm(question, lines); err != nil {
					return err
				}
			}
			inc, err := act.do(cmd.Context(), c, args[0])
			if err != nil {
				return refused(err)
			}
			if wait > 0 && inc.State.Running() {
				inc, err = a.follow(cmd.Context(), c, inc.ID, wait)
				if err != nil {
					return err
				}
			}
			if a.output == "json" {
				return writeJSON(a.stdout, inc)
			}
			if act.report != nil {
				return act.report(inc, wait > 0)
			}
			if wait > 0 {
				if err := writeIncident(a.stdout, a.now(), &inc); err != nil {
					return err
				}
				if inc.State == api.StateFailed || inc.State == api.StateNeedsAttention {
					return fmt.Errorf("incident %s ended %s: %s", inc.ID, inc.State, orDash(inc.Error))
				}
				return nil
			}
			fmt.Fprintf(a.stdout, "%s: incident %s is %s (follow with: vcrctl show %s)\n", inc.Service, inc.ID, inc.State, inc.ID)
			return nil
		},
	}
	if act.ask != nil {
		cmd.Flags().DurationVar(&wait, "wait", 0, "wait up to this long for the pipeline to finish, then show the incident")
	}
	return cmd
}

// refused words a 409 as the receiver's refusal.
func refused(err error) error {
	var se *api.StatusError
	if errors.As(err, &se) && se.Code == http.StatusConflict {
		return fmt.Errorf("refused: %s", se.Message)
	}
	return err
}

func (a *app) follow(ctx context.Context, c *api.Client, id string, limit time.Duration) (api.Incident, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		inc, err := c.Incident(ctx, id)
		if err == nil && !inc.State.Running() {
			return inc, nil
		}
		select {
		case <-ctx.Done():
			return inc, fmt.Errorf("incident %s still %s after --wait %s: follow it with vcrctl show %s", id, inc.State, limit, id)
		case <-tick.C:
		}
	}
}
