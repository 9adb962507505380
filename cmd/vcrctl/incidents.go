package main

import (
	"context"
	"fmt"

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
			keep := func(inc api.Incident) bool {
				return (!open || inc.State.Holds()) && (service == "" || inc.Service == service)
			}
			out, err := listIncidents(cmd.Context(), c, limit, keep)
			if err != nil {
				return err
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
	cmd.AddCommand(a.cancelCmd())
	cmd.Flags().BoolVar(&open, "open", false, "only incidents still holding their service (not resolved or acknowledged)")
	cmd.Flags().StringVar(&service, "service", "", "only this service's incidents")
	cmd.Flags().IntVar(&limit, "limit", 0, "show at most this many (0: all)")
	cmd.AddCommand(a.retryCmd())
	return cmd
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

func exactArgs(n int, hint string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("want %d argument(s), got %d: %s", n, len(args), hint)}
		}
		return nil
	}
}

// listIncidents returns up to limit incidents that keep accepts, newest
// first (limit 0: all). With a limit it reads the receiver's pages until it
// has enough, so after a mass event `vcrctl incidents --limit 20` does not
// make the receiver read and send its whole history.
func listIncidents(ctx context.Context, c *api.Client, limit int, keep func(api.Incident) bool) ([]api.Incident, error) {
	out := []api.Incident{} // JSON output says [] for none
	if limit == 0 {
		incs, err := c.Incidents(ctx)
		for _, inc := range incs {
			if keep(inc) {
				out = append(out, inc)
			}
		}
		return out, err
	}
	cursor := ""
	for {
		page, next, err := c.IncidentsPage(ctx, max(limit, 100), cursor)
		if err != nil {
			return nil, err
		}
		for _, inc := range page {
			if keep(inc) {
				out = append(out, inc)
				if len(out) == limit {
					return out, nil
				}
			}
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}
