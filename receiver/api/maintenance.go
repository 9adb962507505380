package api

import "time"

// MaintenanceRequest opens a maintenance window for one service, every
// service on one hypervisor host, or every service in one cloud.
type MaintenanceRequest struct {
	Service string `json:"service,omitempty"`
	Host    string `json:"host,omitempty"`
	Cloud   string `json:"cloud,omitempty"`
	// Duration is how long the window lasts from now, in Go's notation
	// ("2h", "90m"); it ends by itself then.
	Duration  string `json:"duration"`
	Comment   string `json:"comment"`
	CreatedBy string `json:"created_by,omitempty"`
}

// OneTarget reports whether the request names exactly one of Service, Host
// and Cloud, as it must.
func (r MaintenanceRequest) OneTarget() bool {
	n := 0
	for _, v := range []string{r.Service, r.Host, r.Cloud} {
		if v != "" {
			n++
		}
	}
	return n == 1
}

// Maintenance is a window in which the receiver starts no automatic
// recovery for the services it covers: their failure alerts are journaled,
// declined and listed here. Operators' own runs still work.
type Maintenance struct {
	ID string `json:"id"`
	// Exactly one of Service, Host and Cloud names what the window covers.
	Service string `json:"service,omitempty"`
	Host    string `json:"host,omitempty"`
	Cloud   string `json:"cloud,omitempty"`
	// Services are the services it covered when it was opened.
	Services  []string   `json:"services"`
	StartsAt  time.Time  `json:"starts_at"`
	EndsAt    time.Time  `json:"ends_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"` // stopped before EndsAt
	Comment   string     `json:"comment"`
	CreatedBy string     `json:"created_by,omitempty"`
	// Matchers are the label matchers of the Alertmanager silences that
	// keep the window's alerts from notifying anyone: one silence per set.
	Matchers [][]Matcher `json:"matchers"`
	// Declined are the newest alerts that would have started a recovery
	// (at most MaxDeclinedShown), DeclinedTotal all of them.
	Declined      []Declined `json:"declined,omitempty"`
	DeclinedTotal int        `json:"declined_total"`
	// Active is whether the window holds at the time of the answer.
	Active bool `json:"active"`
}

// MaxDeclinedShown bounds the declined alerts a window keeps for showing.
const MaxDeclinedShown = 20

// Target names what the window covers: "service web", "host hv1".
func (m Maintenance) Target() string {
	switch {
	case m.Service != "":
		return "service " + m.Service
	case m.Host != "":
		return "host " + m.Host
	default:
		return "cloud " + m.Cloud
	}
}

// HoldsAt reports whether the window holds at t: started, not yet ended,
// not stopped.
func (m Maintenance) HoldsAt(t time.Time) bool {
	return m.EndedAt == nil && !t.Before(m.StartsAt) && t.Before(m.EndsAt)
}

// Matcher is one label matcher in Alertmanager's v2 API form.
type Matcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
}

// Declined is one alert a maintenance window kept from starting a recovery.
type Declined struct {
	At        time.Time `json:"at"`
	Service   string    `json:"service"`
	Alertname string    `json:"alertname"`
	Source    string    `json:"source,omitempty"`
}
