package ui

import (
	"time"

	"github.com/vcrcovery/vcrcovery/internal/humanize"
	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// maintenanceView is one maintenance window as the page shows it: what it
// covers, until when, and the alerts it kept from starting a recovery.
type maintenanceView struct {
	api.Maintenance
	Until    string // the end, in UTC
	Left     string // "ends in 1h 20m", "ended 5m ago"
	Declined []declinedView
}

type declinedView struct {
	api.Declined
	When string
}

func newMaintenanceView(w api.Maintenance, now time.Time) maintenanceView {
	v := maintenanceView{Maintenance: w, Until: w.EndsAt.UTC().Format("2006-01-02 15:04 MST")}
	switch end := w.EndsAt; {
	case w.Active:
		v.Left = "ends in " + humanize.Duration(end.Sub(now))
	case w.EndedAt != nil:
		v.Left = "stopped " + fmtAgo(now, *w.EndedAt)
	default:
		v.Left = "ended " + fmtAgo(now, end)
	}
	// Newest first, as the incidents are.
	for i := len(w.Declined) - 1; i >= 0; i-- {
		v.Declined = append(v.Declined, declinedView{Declined: w.Declined[i], When: fmtAgo(now, w.Declined[i].At)})
	}
	return v
}

// inMaintenance maps each service an active window covers to the window's
// end, for the services table.
func inMaintenance(ws []api.Maintenance) map[string]string {
	out := map[string]string{}
	for _, w := range ws {
		if !w.Active {
			continue
		}
		for _, s := range w.Services {
			out[s] = w.EndsAt.UTC().Format("15:04 MST")
		}
	}
	return out
}
