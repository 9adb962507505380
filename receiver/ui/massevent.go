package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vcrcovery/vcrcovery/internal/humanize"
	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// eventView is a mass event as the page shows it: one block with its
// incidents' progress, instead of one incident block per service.
type eventView struct {
	api.MassEvent
	Title    string // "host hv1 down (VCRHostHeartbeatLost)"
	Summary  string // "150 of 200 switched; 40 preparing, 10 open"
	Age      string
	Open     bool   // an incident still holds its service
	Switches string // "first switch +0.4s, last +4.8s"
	// Bars are the shares of the incidents by outcome, in percent.
	Bars []eventBar
	Rows []eventRow
}

type eventBar struct{ Class, Width, Label string }

type eventRow struct {
	api.EventIncident
	StateWord string
	Switched  string // "+1.2s" or "—"
}

// newEventView builds the block of one mass event.
func newEventView(e api.MassEvent, now time.Time) eventView {
	v := eventView{MassEvent: e, Age: fmtAgo(now, e.OpenedAt)}
	what := e.Scope
	if what == "" {
		what = "many services"
	}
	v.Title = what + " down (" + e.Reason + ")"
	n := len(e.Incidents)
	var waiting []string
	for _, st := range []api.State{api.StateOpen, api.StateFencing, api.StatePreparing, api.StateVerifying, api.StateSwitching,
		api.StateFinalizing, api.StateFailed, api.StateNeedsAttention} {
		if c := e.States[st]; c > 0 {
			waiting = append(waiting, fmt.Sprintf("%d %s", c, st))
		}
	}
	v.Summary = fmt.Sprintf("%d of %d switched", e.Switched, n)
	if len(waiting) > 0 {
		v.Summary += "; " + strings.Join(waiting, ", ")
	}
	v.Summary += "."
	if e.Switched > 0 {
		v.Switches = fmt.Sprintf("First switch +%s, last +%s after the alert.", secs(e.FirstSwitch), secs(e.LastSwitch))
	}
	bad := e.States[api.StateFailed] + e.States[api.StateNeedsAttention]
	closedOK := n - e.Running - bad
	for _, b := range []struct {
		class string
		count int
		label string
	}{{"ok", closedOK, "done"}, {"running", e.Running, "running"}, {"bad", bad, "failed or needs attention"}} {
		if b.count > 0 {
			v.Bars = append(v.Bars, eventBar{Class: b.class, Width: fmt.Sprintf("%.2f", float64(b.count)/float64(n)*100),
				Label: fmt.Sprintf("%d %s", b.count, b.label)})
		}
	}
	for _, ei := range e.Incidents {
		if ei.State.Holds() {
			v.Open = true
		}
		row := eventRow{EventIncident: ei, StateWord: stateClass(ei.State), Switched: "—"}
		if ei.Switched > 0 {
			row.Switched = "+" + secs(ei.Switched)
		}
		v.Rows = append(v.Rows, row)
	}
	// Those that need an operator first, then those still running.
	slices.SortStableFunc(v.Rows, func(a, b eventRow) int { return rowRank(a) - rowRank(b) })
	return v
}

func rowRank(r eventRow) int {
	switch {
	case r.State == api.StateFailed || r.State == api.StateNeedsAttention:
		return 0
	case r.State.Running():
		return 1
	}
	return 2
}

func secs(s float64) string { return humanize.Duration(time.Duration(s * float64(time.Second))) }
