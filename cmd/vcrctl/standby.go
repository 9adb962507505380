package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vcrcovery/vcrcovery/plugins/ownership"
)

func (a *app) standbyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "standby",
		Short: "Manage the standby containers the strategies may use (reads --config.file)",
	}
	cmd.AddCommand(a.standbyAdoptCmd())
	return cmd
}

func (a *app) standbyAdoptCmd() *cobra.Command {
	var opts ownership.AdoptOptions
	cmd := &cobra.Command{
		Use:   "adopt SERVICE",
		Short: "Mark an existing container on SERVICE's standby remote as SERVICE's, so the strategies may reuse or replace it",
		Long: `adopt sets user.vcrcovery.service=SERVICE (and user.vcrcovery.incident=adopted-<time>)
in the container's config. The strategies never delete or replace a container without that mark:
a container made by hand must be adopted before cold may replace it or scale-up may use its name
on the target. The remote and the container come from SERVICE's strategy settings (remote, or
source for scale-up; instance, else the service's name); --remote and --instance override them.`,
		Args: exactArgs(1, "give the service name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfigNoSecrets()
			if err != nil {
				return err
			}
			svc := cfg.Service(args[0])
			if svc == nil {
				return fmt.Errorf("no service %q in %s: see vcrctl status for the names", args[0], a.configFile)
			}
			res, err := ownership.Adopt(cmd.Context(), svc.Name, svc.Strategy.SettingsJSON, cfg.Shared(), opts)
			if err != nil {
				return err
			}
			if a.output == "json" {
				return writeJSON(a.stdout, map[string]any{
					"service": svc.Name, "remote": res.Remote, "instance": res.Instance, "changed": res.Changed(),
					"before": ownerJSON(res.Before), "after": ownerJSON(res.After),
				})
			}
			if !res.Changed() {
				fmt.Fprintf(a.stdout, "Instance %s on remote %s is already %s's (%s)\n", res.Instance, res.Remote, svc.Name, res.After)
				return nil
			}
			fmt.Fprintf(a.stdout, "Marked instance %s on remote %s as %s's (%s; was %s)\n", res.Instance, res.Remote, svc.Name, res.After, res.Before)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Remote, "remote", "", "the lxd_remotes name holding the container (default: from the service's settings)")
	f.StringVar(&opts.Instance, "instance", "", "the container's name (default: from the service's settings, else the service's name)")
	f.BoolVar(&opts.Force, "force", false, "take over a container marked for another service")
	return cmd
}

func ownerJSON(o ownership.Owner) map[string]string {
	if o.Service == "" {
		return nil
	}
	return map[string]string{"service": o.Service, "incident": o.Incident}
}
