package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// eventsCmd lists mass events (one failure that opened many incidents,
// such as a host or a cloud down) or shows one with its incidents.
func (a *app) eventsCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "events [ID]",
		Aliases: []string{"event"},
		Short:   "Mass events (a host or cloud down): each as one line with its incidents' progress, or one in detail",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			events, err := c.Events(cmd.Context())
			if err != nil {
				return err
			}
			if len(args) == 1 {
				for _, e := range events {
					if e.ID == args[0] {
						if a.output == "json" {
							return writeJSON(a.stdout, e)
						}
						return writeEvent(a.stdout, a.now(), &e)
					}
				}
				return fmt.Errorf("no mass event %s among the recent incidents: list them with vcrctl events", args[0])
			}
			if a.output == "json" {
				return writeJSON(a.stdout, events)
			}
			if len(events) == 0 {
				fmt.Fprintln(a.stdout, "No mass events among the recent incidents.")
				return nil
			}
			return writeEvents(a.stdout, a.now(), events)
		},
	}
}

// progressText says how far an event's incidents got: "150/200 switched,
// 40 running, 10 failed".
func progressText(e *api.MassEvent) string {
	s := fmt.Sprintf("%d/%d switched", e.Switched, len(e.Incidents))
	if e.Running > 0 {
		s += fmt.Sprintf(", %d running", e.Running)
	}
	if bad := e.States[api.StateFailed] + e.States[api.StateNeedsAttention]; bad > 0 {
		s += fmt.Sprintf(", %d failed or needing attention", bad)
	}
	return s
}

func switchSpan(e *api.MassEvent) (first, last string) {
	if e.Switched == 0 {
		return "-", "-"
	}
	return "+" + dur(secs(e.FirstSwitch)), "+" + dur(secs(e.LastSwitch))
}

// writeEvents prints one line per mass event.
func writeEvents(w io.Writer, now time.Time, events []api.MassEvent) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "EVENT\tSCOPE\tREASON\tAGE\tINCIDENTS\tPROGRESS\tFIRST SWITCH\tLAST SWITCH")
	for i := range events {
		e := &events[i]
		first, last := switchSpan(e)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", e.ID, orDash(e.Scope), e.Reason, ago(now, e.OpenedAt),
			len(e.Incidents), progressText(e), first, last)
	}
	return tw.Flush()
}

// writeEvent prints one mass event and each of its incidents.
func writeEvent(w io.Writer, now time.Time, e *api.MassEvent) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "Event:\t%s\n", e.ID)
	fmt.Fprintf(tw, "Scope:\t%s (%s)\n", orDash(e.Scope), e.Reason)
	fmt.Fprintf(tw, "Opened:\t%s (%s ago)\n", stamp(e.OpenedAt), ago(now, e.OpenedAt))
	fmt.Fprintf(tw, "Progress:\t%s\n", progressText(e))
	if first, last := switchSpan(e); e.Switched > 0 {
		fmt.Fprintf(tw, "Switches:\tfirst %s, last %s after the alert\n", first, last)
	}
	var states []string
	for _, st := range []api.State{api.StateOpen, api.StateFencing, api.StatePreparing, api.StateVerifying, api.StateSwitching,
		api.StateFinalizing, api.StateResolved, api.StateFailed, api.StateNeedsAttention, api.StateAcknowledged} {
		if n := e.States[st]; n > 0 {
			states = append(states, fmt.Sprintf("%d %s", n, st))
		}
	}
	fmt.Fprintf(tw, "States:\t%s\n", strings.Join(states, ", "))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = newTable(w)
	fmt.Fprintln(tw, "SERVICE\tINCIDENT\tSTATE\tPHASE\tSWITCHED\tERROR")
	for _, ei := range e.Incidents {
		sw := "-"
		if ei.Switched > 0 {
			sw = "+" + dur(secs(ei.Switched))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ei.Service, ei.ID, ei.State, orDash(ei.Phase), sw, orDash(ei.Error))
	}
	return tw.Flush()
}
