package main

// vcrctl maintenance: planned work on a service, a host or a cloud. The
// receiver records the window and starts no automatic recovery for the
// services it covers; Alertmanager's silences keep their alerts from
// notifying anyone. Both end by themselves when the window does.

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

func (a *app) maintenanceCmd() *cobra.Command {
	var ams []string
	cmd := &cobra.Command{
		Use:     "maintenance",
		Aliases: []string{"maint"},
		Short:   "Planned work: no automatic recovery for a service, host or cloud for a while, and its alerts silenced",
	}
	var envAMs []string
	if v := os.Getenv("VCR_ALERTMANAGER_URL"); v != "" {
		envAMs = strings.Split(v, ",")
	}
	cmd.PersistentFlags().StringSliceVar(&ams, "alertmanager.url", envAMs, "Alertmanager base URL that holds the window's silences (repeatable; env VCR_ALERTMANAGER_URL, comma-separated)")
	cmd.AddCommand(a.maintenanceStartCmd(&ams), a.maintenanceStopCmd(&ams), a.maintenanceListCmd())
	return cmd
}

func (a *app) maintenanceStartCmd(ams *[]string) *cobra.Command {
	var host, cloud, comment, createdBy string
	var dur time.Duration
	var noSilence bool
	cmd := &cobra.Command{
		Use:   "start (SERVICE | --host HOST | --cloud CLOUD) --for DURATION --comment TEXT",
		Short: "Open a maintenance window: the receiver recovers nothing it covers until it ends, and Alertmanager silences its alerts",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := api.MaintenanceRequest{Host: host, Cloud: cloud, Duration: dur.String(), Comment: comment, CreatedBy: createdBy}
			if len(args) == 1 {
				req.Service = args[0]
			}
			switch {
			case !req.OneTarget():
				return usageError{fmt.Errorf("name exactly one of SERVICE, --host and --cloud")}
			case dur <= 0:
				return usageError{fmt.Errorf("--for: say how long the window lasts, e.g. --for 2h; it ends by itself then")}
			case strings.TrimSpace(comment) == "":
				return usageError{fmt.Errorf("--comment: say what the planned work is; it shows on the window, its silences and the declined alerts")}
			case len(*ams) == 0 && !noSilence:
				return usageError{fmt.Errorf("--alertmanager.url (or VCR_ALERTMANAGER_URL): the Alertmanager to silence the window's alerts in; or --no-silence to only keep the receiver from recovering")}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			target := api.Maintenance{Service: req.Service, Host: req.Host, Cloud: req.Cloud}.Target()
			lines := []string{
				"the receiver starts no automatic failover or scale-up for the services it covers until " + a.now().Add(dur).UTC().Format("2006-01-02 15:04 MST") + "; their alerts are journaled and declined",
				"operators' own failovers, drills and failbacks still run",
			}
			for _, u := range *ams {
				lines = append(lines, "Alertmanager "+u+" silences the window's alerts until it ends")
			}
			if !a.yes {
				if err := a.confirm(fmt.Sprintf("Open a %s maintenance window for %s (%s)?", dur, target, comment), lines); err != nil {
					return err
				}
			}
			w, err := c.StartMaintenance(cmd.Context(), req)
			if err != nil {
				return refused(err)
			}
			var failed []string
			silenced := map[string][]string{}
			for _, u := range *ams {
				ids, err := (alertmanager{url: u, hc: &http.Client{Timeout: a.timeout}}).silence(cmd.Context(), w)
				silenced[u] = ids
				if err != nil {
					failed = append(failed, err.Error())
				}
			}
			if a.output == "json" {
				if err := writeJSON(a.stdout, w); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.stdout, "maintenance window %s: %s (%s) until %s\n", w.ID, w.Target(), strings.Join(w.Services, ", "), w.EndsAt.UTC().Format("2006-01-02 15:04 MST"))
				for _, u := range *ams {
					if len(silenced[u]) > 0 {
						fmt.Fprintf(a.stdout, "silenced in %s: %s\n", u, strings.Join(silenced[u], ", "))
					}
				}
				fmt.Fprintf(a.stdout, "end it early with: vcrctl maintenance stop %s\n", w.ID)
			}
			if len(failed) > 0 {
				return fmt.Errorf("window %s is open at the receiver, so nothing it covers fails over, but its alerts still notify: %s; stop and start the window again once Alertmanager answers",
					w.ID, strings.Join(failed, "; "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&host, "host", "", "cover every service whose primary runs on this hypervisor host (primary.host.name)")
	f.StringVar(&cloud, "cloud", "", "cover every service whose primary runs in this cloud (primary.host.cloud)")
	f.DurationVar(&dur, "for", 0, "how long the window lasts; it ends by itself then (at most a week)")
	f.StringVar(&comment, "comment", "", "what the planned work is")
	f.StringVar(&createdBy, "created-by", whoami(), "who opens the window")
	f.BoolVar(&noSilence, "no-silence", false, "create no Alertmanager silence: the alerts still notify, only recovery is held")
	return cmd
}

func (a *app) maintenanceStopCmd(ams *[]string) *cobra.Command {
	return &cobra.Command{
		Use:   "stop ID",
		Short: "End a maintenance window now: automatic recovery resumes and its silences expire",
		Args:  exactArgs(1, "give the window's ID (see vcrctl maintenance list)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			id := args[0]
			if !a.yes {
				lines := []string{"the receiver recovers the services it covered automatically again: a service still down fails over at its next alert"}
				for _, u := range *ams {
					lines = append(lines, "Alertmanager "+u+" expires the window's silences, so its alerts notify again")
				}
				if err := a.confirm("End maintenance window "+id+" now?", lines); err != nil {
					return err
				}
			}
			w, stopErr := c.StopMaintenance(cmd.Context(), id)
			var se *api.StatusError
			if stopErr != nil && !(errors.As(stopErr, &se) && se.Code == http.StatusConflict) {
				return stopErr // unknown window, or the receiver did not answer: leave the silences
			}
			for _, u := range *ams {
				n, err := (alertmanager{url: u, hc: &http.Client{Timeout: a.timeout}}).expire(cmd.Context(), id)
				if err != nil {
					return fmt.Errorf("expire the silences of %s: %w", id, err)
				}
				fmt.Fprintf(a.stdout, "expired %d silence(s) in %s\n", n, u)
			}
			if stopErr != nil {
				return refused(stopErr)
			}
			if a.output == "json" {
				return writeJSON(a.stdout, w)
			}
			fmt.Fprintf(a.stdout, "maintenance window %s (%s) ended; %d alert(s) were declined while it held\n", w.ID, w.Target(), w.DeclinedTotal)
			return nil
		},
	}
}

func (a *app) maintenanceListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the maintenance windows that hold or ended within the last day",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ws, err := c.Maintenance(cmd.Context())
			if err != nil {
				return err
			}
			if a.output == "json" {
				return writeJSON(a.stdout, ws)
			}
			if len(ws) == 0 {
				fmt.Fprintln(a.stdout, "No maintenance windows.")
				return nil
			}
			return writeMaintenance(a.stdout, a.now(), ws)
		},
	}
}

// whoami names the operator for a window's created_by: user@host.
func whoami() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		return name + "@" + h
	}
	return name
}
