package main

import (
	"fmt"

	"github.com/spf13/cobra"
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
