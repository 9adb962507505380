package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/vcrcovery/vcrcovery/cost"
	"github.com/vcrcovery/vcrcovery/internal/humanize"
	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// timeline is an incident's phases laid out as a waterfall: each bar starts
// where its phase started and is as wide as it lasted, on one time axis
// from the detection to the end (or now, while it runs).
type timeline struct {
	Total string
	Rows  []timelineRow
}

type timelineRow struct {
	Name     string
	Outcome  string // ok, failed, running, skipped, pending (not reached)
	Left     string // percent of the axis, "12.50"
	Width    string
	Start    string // offset from detection, "+0.13s"
	Duration string
	Attempts int
	Error    string // in plain words
	Messages []string
}

func buildTimeline(inc *api.Incident, now time.Time) timeline {
	var t0 time.Time
	if len(inc.Phases) > 0 {
		t0 = inc.Phases[0].StartedAt
	}
	if t0.IsZero() {
		t0 = inc.OpenedAt
	}
	end := t0
	for i := range inc.Phases {
		p := &inc.Phases[i]
		pe := phaseEnd(p, now)
		if pe.After(end) {
			end = pe
		}
	}
	if inc.ClosedAt != nil && inc.ClosedAt.After(end) {
		end = *inc.ClosedAt
	}
	total := end.Sub(t0)
	tl := timeline{Total: humanize.Duration(total)}
	names := api.PhaseNames
	if inc.Phase(api.PhaseAbort) != nil {
		names = append(names[:len(names):len(names)], api.PhaseAbort)
	}
	for _, name := range names {
		p := inc.Phase(name)
		if p == nil {
			outcome := "pending"
			if !inc.State.Running() {
				outcome = "not-reached"
			}
			tl.Rows = append(tl.Rows, timelineRow{Name: name, Outcome: outcome, Left: "0", Width: "0", Start: "", Duration: "—"})
			continue
		}
		d := phaseEnd(p, now).Sub(p.StartedAt)
		left, width := 0.0, 100.0
		if total > 0 {
			left = float64(p.StartedAt.Sub(t0)) / float64(total) * 100
			width = float64(d) / float64(total) * 100
		}
		// A 2 ms phase on a 3 s axis would vanish; keep a visible sliver.
		width = max(width, 0.6)
		left = min(max(left, 0), 100-width)
		row := timelineRow{
			Name: name, Outcome: p.Outcome, Left: fmt.Sprintf("%.2f", left), Width: fmt.Sprintf("%.2f", width),
			Start: "+" + humanize.Duration(p.StartedAt.Sub(t0)), Duration: humanize.Duration(d), Attempts: p.Attempts, Messages: p.Messages,
		}
		if p.Error != "" {
			row.Error = plainError(name, p.Error)
		}
		tl.Rows = append(tl.Rows, row)
	}
	return tl
}

func phaseEnd(p *api.Phase, now time.Time) time.Time {
	switch {
	case p.EndedAt != nil:
		return *p.EndedAt
	case p.Outcome == api.OutcomeRunning:
		return now
	default:
		return p.StartedAt.Add(time.Duration(p.DurationSeconds * float64(time.Second)))
	}
}

// phaseLeads say in plain words what a failed phase means for the service,
// before the technical cause.
var phaseLeads = map[string]string{
	api.PhaseDetect:   "The failure report could not be processed.",
	api.PhaseFence:    "VCRcovery could not make sure the primary is down, so it did not take over its name.",
	api.PhasePrepare:  "The service could not be started on the standby.",
	api.PhaseVerify:   "The service on the standby did not pass its check in time.",
	api.PhaseSwitch:   "The DNS record could not be switched; clients still go to the old address.",
	api.PhaseFinalize: "The switch is done, but the clean-up afterwards failed.",
}

func plainError(phase, err string) string {
	lead := phaseLeads[phase]
	if lead == "" {
		return err
	}
	return lead + " Cause: " + err
}

// incidentView is one incident as the page shows it.
type incidentView struct {
	*api.Incident
	Open     bool
	Age      string
	Opened   string
	Recovery string // detect→switch, empty if it never switched
	Timeline timeline
	CanAck   bool
	Summary  string // one line in plain words
	// TopError is the incident's error when no phase row already says it.
	TopError  string
	StateWord string // css class
	// CanCancel: the recovery runs and has not begun its DNS switch.
	CanCancel bool
}

func newIncidentView(inc *api.Incident, now time.Time) incidentView {
	v := incidentView{
		Incident: inc, Open: inc.State.Holds(), Age: fmtAgo(now, inc.OpenedAt),
		Opened:   inc.OpenedAt.UTC().Format("2006-01-02 15:04:05 MST"),
		Timeline: buildTimeline(inc, now),
		CanAck:   inc.State == api.StateFailed || inc.State == api.StateNeedsAttention,
	}
	v.CanCancel = inc.State.Running() && inc.State != api.StateAborting && inc.CancelRequestedAt == nil && !inc.SwitchBegun()
	if d, ok := cost.DetectToSwitch(inc); ok {
		v.Recovery = humanize.Duration(d)
	}
	v.StateWord = stateClass(inc.State)
	v.TopError = inc.Error
	for _, p := range inc.Phases {
		// The receiver words an incident's error as "<phase> failed: <the
		// phase's error>"; the timeline shows that row's error already.
		if p.Error != "" && strings.HasSuffix(inc.Error, p.Error) {
			v.TopError = ""
		}
	}
	v.Summary = summary(inc)
	return v
}

func stateClass(s api.State) string {
	switch {
	case s.Running():
		return "running"
	case s == api.StateResolved:
		return "ok"
	case s == api.StateAcknowledged:
		return "muted"
	default:
		return "bad"
	}
}

func summary(inc *api.Incident) string {
	what := map[api.Kind]string{
		api.KindFailover:       "Failover of " + inc.Service + " after " + inc.Reason,
		api.KindManualFailover: "Manual failover of " + inc.Service,
		api.KindDrill:          "Failover drill of " + inc.Service,
		api.KindFailback:       "Failback of " + inc.Service + " to its primary",
		api.KindScaleUp:        "Scale-up of " + inc.Service + " to a bigger VM",
	}[inc.Kind]
	if what == "" {
		what = "Recovery of " + inc.Service
	}
	switch {
	case inc.State == api.StateResolved:
		return what + ": done."
	case inc.State.Running():
		return what + ": in progress (" + string(inc.State) + ")."
	case inc.State == api.StateNeedsAttention:
		return what + ": stopped and needs an operator."
	case inc.State == api.StateFailed:
		return what + ": failed."
	case inc.State == api.StateAcknowledged:
		return what + ": acknowledged by an operator."
	}
	return what + "."
}

func fmtAgo(now, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := now.Sub(t)
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	}
}

// fmtBytes is humanize.Bytes, except that sizes under a MiB show whole KiB
// as the container panel always has.
func fmtBytes(n int64) string {
	if n >= 1<<10 && n < 1<<20 {
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return humanize.Bytes(n)
}
