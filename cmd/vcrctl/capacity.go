package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vcrcovery/vcrcovery/internal/humanize"
	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// errShort is what --check returns when a host or cloud would not fit.
var errShort = errors.New("the standbys would not hold every host's or cloud's services: see the rows marked no")

func (a *app) capacityCmd() *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "capacity",
		Short: "If a host or cloud failed now, would the standbys hold its services, and how long would that take?",
		Long: `capacity shows the receiver's pre-flight view. For every host and every cloud
in the configuration, it adds up what the services there declare (resources:
vcpus and memory) per standby they recover onto, and compares it with what each
standby's machine has not promised yet (LXD's /1.0/resources less the limits of
what runs there). A warm container that runs already holds its room. The
recovery estimate is the time from the first prepare to the last, from measured
(else documented) per-strategy times and the prepares one standby runs at once.

With --check, vcrctl exits 1 when any answer is no.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ans, err := c.Capacity(cmd.Context())
			if err != nil {
				return err
			}
			if a.output == "json" {
				err = writeJSON(a.stdout, ans)
			} else {
				err = writeCapacity(a.stdout, ans)
			}
			if err != nil {
				return err
			}
			if check {
				for _, s := range ans.Scopes {
					if !s.Fits {
						return errShort
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "exit 1 when a host or cloud would not fit")
	return cmd
}

// writeCapacity prints one row per host and cloud, then the standbys, then
// the notes that qualify an answer.
func writeCapacity(w io.Writer, c api.Capacity) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "SCOPE\tNAME\tSERVICES\tFITS\tSHORT OF\tRECOVERY\tWHERE")
	var notes []string
	for _, s := range c.Scopes {
		fits, short := "yes", "-"
		if !s.Fits {
			fits, short = "no", orDash(s.Shortfall())
		}
		var where []string
		for _, t := range s.Targets {
			running := ""
			if len(t.Running) > 0 {
				running = fmt.Sprintf(" (%d running)", len(t.Running))
			}
			where = append(where, fmt.Sprintf("%s: %d%s need %s vCPUs, %s; free %s vCPUs, %s", t.Remote, len(t.Services), running,
				humanize.VCPUs(t.NeedVCPUs), humanize.Bytes(t.NeedMemoryBytes), humanize.VCPUs(t.FreeVCPUs), humanize.Bytes(t.FreeMemoryBytes)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", s.Scope, s.Name, len(s.Services), fits, short, dur(secs(s.RecoverySeconds)), orDash(strings.Join(where, "; ")))
		for _, p := range s.Problems {
			notes = append(notes, fmt.Sprintf("%s %s: %s", s.Scope, s.Name, p))
		}
		if len(s.Undeclared) > 0 {
			notes = append(notes, fmt.Sprintf("%s %s: not counted, no resources declared: %s", s.Scope, s.Name, strings.Join(s.Undeclared, ", ")))
		}
	}
	if len(c.Scopes) == 0 {
		fmt.Fprintln(tw, "-\t-\t0\t-\t-\t-\tno service names a primary.host.name or .cloud")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = newTable(w)
	fmt.Fprintln(tw, "STANDBY\tVCPUS\tPROMISED\tMEMORY\tPROMISED\tPREPARES AT ONCE")
	for _, r := range c.Remotes {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t%d\n", r.Name, r.Concurrency)
			notes = append(notes, fmt.Sprintf("standby %s: %s", r.Name, r.Error))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", r.Name, humanize.VCPUs(r.VCPUs), humanize.VCPUs(r.UsedVCPUs), humanize.Bytes(r.MemoryBytes), humanize.Bytes(r.UsedMemoryBytes), r.Concurrency)
		if r.UnlimitedRunning > 0 {
			notes = append(notes, fmt.Sprintf("standby %s: %d running instances have no CPU limit and count as using none", r.Name, r.UnlimitedRunning))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, "note: "+n)
		}
	}
	return nil
}
