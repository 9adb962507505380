package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

func (a *app) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show every service, where it runs now and its open incident",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			svcs, err := c.Services(cmd.Context())
			if err != nil {
				return err
			}
			if a.output == "json" {
				return writeJSON(a.stdout, svcs)
			}
			if len(svcs) == 0 {
				fmt.Fprintln(a.stdout, "No services configured.")
				return nil
			}
			return writeServices(a.stdout, svcs)
		},
	}
}

func (a *app) incidentsCmd() *cobra.Command {
	var open bool
	var service string
	var limit int
	cmd := &cobra.Command{
		Use:     "incidents",
		Aliases: []string{"incident", "ls"},
		Short:   "List incidents, newest first",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			incs, err := c.Incidents(cmd.Context())
			if err != nil {
				return err
			}
			out := incs[:0:0]
			for _, inc := range incs {
				if open && !inc.State.Holds() {
					continue
				}
				if service != "" && inc.Service != service {
					continue
				}
				out = append(out, inc)
			}
			if limit > 0 && len(out) > limit {
				out = out[:limit]
			}
			if a.output == "json" {
				return writeJSON(a.stdout, out)
			}
			if len(out) == 0 {
				fmt.Fprintln(a.stdout, "No incidents.")
				return nil
			}
			return writeIncidents(a.stdout, a.now(), out)
		},
	}
	cmd.Flags().BoolVar(&open, "open", false, "only incidents still holding their service (not resolved or acknowledged)")
	cmd.Flags().StringVar(&service, "service", "", "only this service's incidents")
	cmd.Flags().IntVar(&limit, "limit", 0, "show at most this many (0: all)")
	cmd.AddCommand(a.retryCmd())
	return cmd
}

// retryCmd is `vcrctl incident retry ID`.
func (a *app) retryCmd() *cobra.Command {
	return a.actionCmd("retry ID", "Resume a failed incident from the phase that failed (completed phases, and a switch that was done, are not redone)",
		func(ctx context.Context, c *api.Client, arg string) (api.Incident, error) {
			return c.Retry(ctx, arg)
		})
}

func (a *app) showCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show one incident: its phases, timings, DNS change and errors",
		Args:  exactArgs(1, "give the incident ID (see vcrctl incidents)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			inc, err := c.Incident(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.output == "json" {
				return writeJSON(a.stdout, inc)
			}
			return writeIncident(a.stdout, a.now(), &inc)
		},
	}
}

func (a *app) failoverCmd() *cobra.Command {
	var force bool
	cmd := a.actionCmd("failover SERVICE", "Fail SERVICE over to its standby: fence its primary, bring it up, verify, switch DNS",
		func(ctx context.Context, c *api.Client, arg string) (api.Incident, error) {
			return c.Failover(ctx, arg, force)
		})
	cmd.Flags().BoolVar(&force, "force", false, "switch even while an unfenced primary still answers (turns the split-brain guard off for this run)")
	return cmd
}

func (a *app) drillCmd() *cobra.Command {
	return a.actionCmd("drill SERVICE", "Rehearse a failover of SERVICE: its healthy primary is not fenced and keeps running",
		func(ctx context.Context, c *api.Client, arg string) (api.Incident, error) {
			return c.Drill(ctx, arg)
		})
}

func (a *app) failbackCmd() *cobra.Command {
	return a.actionCmd("failback SERVICE", "Switch SERVICE back to its primary once the primary is healthy",
		func(ctx context.Context, c *api.Client, arg string) (api.Incident, error) {
			return c.Failback(ctx, arg)
		})
}

func (a *app) ackCmd() *cobra.Command {
	cmd := a.actionCmd("ack ID", "Acknowledge a failed or needs-attention incident, freeing its service",
		func(ctx context.Context, c *api.Client, arg string) (api.Incident, error) {
			return c.Acknowledge(ctx, arg)
		})
	cmd.Aliases = []string{"acknowledge"}
	return cmd
}

// actionCmd builds failover, failback and ack. With --wait it follows the
// incident until the pipeline stops and then shows it.
func (a *app) actionCmd(use, short string, do func(context.Context, *api.Client, string) (api.Incident, error)) *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
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
			inc, err := do(cmd.Context(), c, args[0])
			if err != nil {
				var se *api.StatusError
				if errors.As(err, &se) && se.Code == http.StatusConflict {
					return fmt.Errorf("refused: %s", se.Message)
				}
				return err
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
	if use != "ack ID" {
		cmd.Flags().DurationVar(&wait, "wait", 0, "wait up to this long for the pipeline to finish, then show the incident")
	}
	return cmd
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

func exactArgs(n int, hint string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("want %d argument(s), got %d: %s", n, len(args), hint)}
		}
		return nil
	}
}
