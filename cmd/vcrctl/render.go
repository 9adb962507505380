package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vcrcovery/vcrcovery/cost"
	"github.com/vcrcovery/vcrcovery/internal/humanize"
	"github.com/vcrcovery/vcrcovery/receiver/api"
)

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// dur prints a duration short and readable: 12ms, 1.24s, 1m05s, 2h03m, and
// whole days from two days on; a negative one (clock skew) prints as "-".
func dur(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	default:
		return humanize.Duration(d)
	}
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// ago prints how long ago t was, like kubectl's AGE column.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000 MST") }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// recoveryTime is detect→switch (cost.DetectToSwitch, the figure vcrctl cost
// takes medians of) for incidents that switched, else "-".
func recoveryTime(inc *api.Incident) string {
	if d, ok := cost.DetectToSwitch(inc); ok {
		return dur(d)
	}
	return "-"
}

func phaseDuration(now time.Time, p *api.Phase) time.Duration {
	if p.EndedAt != nil {
		return p.EndedAt.Sub(p.StartedAt)
	}
	if p.Outcome == api.OutcomeRunning {
		return now.Sub(p.StartedAt)
	}
	return secs(p.DurationSeconds)
}

// writeServices prints the status table.
func writeServices(w io.Writer, svcs []api.ServiceStatus) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "SERVICE\tLOCATION\tSTRATEGY\tDNS NAME\tADDRESS\tINCIDENT")
	for _, s := range svcs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, orDash(s.Location), orDash(s.Strategy), orDash(s.DNSName), orDash(s.CurrentAddress), orDash(s.OpenIncident))
	}
	return tw.Flush()
}

// writeIncidents prints the incident list.
func writeIncidents(w io.Writer, now time.Time, incs []api.Incident) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tSERVICE\tKIND\tSTATE\tREASON\tAGE\tRECOVERY\tALERTS")
	for i := range incs {
		inc := &incs[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", inc.ID, inc.Service, orDash(string(inc.Kind)), inc.State,
			orDash(inc.Reason), ago(now, inc.OpenedAt), recoveryTime(inc), inc.Alerts.Count)
	}
	return tw.Flush()
}

// writeIncident prints one incident in detail, like kubectl describe.
func writeIncident(w io.Writer, now time.Time, inc *api.Incident) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "ID:\t%s\n", inc.ID)
	fmt.Fprintf(tw, "Service:\t%s (strategy %s)\n", inc.Service, orDash(inc.Strategy))
	if inc.Reason != "" && inc.Reason != string(inc.Kind) {
		fmt.Fprintf(tw, "Kind:\t%s (%s)\n", orDash(string(inc.Kind)), inc.Reason)
	} else {
		fmt.Fprintf(tw, "Kind:\t%s\n", orDash(string(inc.Kind)))
	}
	fmt.Fprintf(tw, "State:\t%s\n", inc.State)
	fmt.Fprintf(tw, "Opened:\t%s (%s ago)\n", stamp(inc.OpenedAt), ago(now, inc.OpenedAt))
	if inc.ClosedAt != nil {
		fmt.Fprintf(tw, "Closed:\t%s (after %s)\n", stamp(*inc.ClosedAt), dur(inc.ClosedAt.Sub(inc.OpenedAt)))
	}
	if r := recoveryTime(inc); r != "-" {
		fmt.Fprintf(tw, "Recovery:\t%s detect to switch\n", r)
	}
	if inc.CancelRequestedAt != nil {
		fmt.Fprintf(tw, "Cancelled:\t%s (by an operator)\n", stamp(*inc.CancelRequestedAt))
	}
	if inc.AcknowledgedAt != nil {
		fmt.Fprintf(tw, "Acknowledged:\t%s\n", stamp(*inc.AcknowledgedAt))
	}
	fmt.Fprintf(tw, "Alerts:\t%s\n", alertSummary(&inc.Alerts))
	if e := inc.Endpoint; e != nil {
		fmt.Fprintf(tw, "Endpoint:\t%s:%d\n", e.Address, e.Port)
	}
	if d := inc.DNS; d != nil {
		fmt.Fprintf(tw, "DNS:\t%s %s -> %s\n", d.Name, list(d.Before), list(d.After))
	}
	if inc.Error != "" {
		fmt.Fprintf(tw, "Error:\t%s\n", inc.Error)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = newTable(w)
	fmt.Fprintln(tw, "PHASE\tOUTCOME\tSTART\tDURATION\tATTEMPTS")
	var start time.Time
	if len(inc.Phases) > 0 {
		start = inc.Phases[0].StartedAt
	}
	for i := range inc.Phases {
		p := &inc.Phases[i]
		fmt.Fprintf(tw, "%s\t%s\t+%s\t%s\t%d\n", p.Name, p.Outcome, dur(p.StartedAt.Sub(start)), dur(phaseDuration(now, p)), p.Attempts)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Errors are long sentences: they get their own lines, not a column.
	var errs []string
	for _, p := range inc.Phases {
		if p.Error != "" {
			errs = append(errs, fmt.Sprintf("  %-8s %s", p.Name, p.Error))
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "\nErrors:\n%s\n", strings.Join(errs, "\n"))
	}
	var msgs []string
	for _, p := range inc.Phases {
		for _, m := range p.Messages {
			msgs = append(msgs, fmt.Sprintf("  %-8s %s", p.Name, m))
		}
	}
	if len(msgs) > 0 {
		fmt.Fprintf(w, "\nMessages:\n%s\n", strings.Join(msgs, "\n"))
	}
	return nil
}

func list(ss []string) string {
	if len(ss) == 0 {
		return "(none)"
	}
	return strings.Join(ss, ",")
}

func alertSummary(a *api.AlertSummary) string {
	s := fmt.Sprintf("%d", a.Count)
	if a.Resolved > 0 {
		s += fmt.Sprintf(" (%d resolved)", a.Resolved)
	}
	if len(a.BySource) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(a.BySource)) {
			parts = append(parts, fmt.Sprintf("%s %d", k, a.BySource[k]))
		}
		s += ", by source: " + strings.Join(parts, ", ")
	}
	if a.FirstSource != "" {
		s += ", first from " + a.FirstSource
	}
	return s
}

// writeMaintenance prints the maintenance windows, one per line.
func writeMaintenance(w io.Writer, now time.Time, ws []api.Maintenance) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tTARGET\tSTATE\tUNTIL\tDECLINED\tSERVICES\tCOMMENT")
	for _, m := range ws {
		state := "active"
		switch {
		case m.EndedAt != nil:
			state = "stopped " + ago(now, *m.EndedAt) + " ago"
		case !m.Active:
			state = "ended"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", m.ID, m.Target(), state, m.EndsAt.UTC().Format("2006-01-02 15:04 MST"),
			m.DeclinedTotal, strings.Join(m.Services, ","), m.Comment)
	}
	return tw.Flush()
}
