package api

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// MassEvent is one failure that opened several incidents at once (a host
// or a cloud down, one delivery naming many failed domains), shown as one
// event with the progress of its incidents.
type MassEvent struct {
	ID string `json:"id"`
	// Reason lists the alert names that opened the incidents.
	Reason string `json:"reason"`
	// Scope is what failed, from the labels the incidents share:
	// "cloud c1", "host hv1", or empty.
	Scope    string    `json:"scope,omitempty"`
	OpenedAt time.Time `json:"opened_at"`
	// States counts the incidents by state.
	States map[State]int `json:"states"`
	// Switched counts the incidents whose DNS switched; FirstSwitch and
	// LastSwitch are seconds from the event's opening to the first and
	// the last of those switches.
	Switched    int     `json:"switched"`
	FirstSwitch float64 `json:"first_switch_seconds,omitempty"`
	LastSwitch  float64 `json:"last_switch_seconds,omitempty"`
	// Running is how many incidents still run their pipeline.
	Running   int             `json:"running"`
	Incidents []EventIncident `json:"incidents"`

	// the alert names, hosts and clouds of the incidents, for Reason and
	// Scope
	reasons, hosts, clouds map[string]bool
}

// EventIncident is one incident of a mass event and how far it got.
type EventIncident struct {
	ID      string `json:"id"`
	Service string `json:"service"`
	State   State  `json:"state"`
	// Phase is the phase running now, or the last one reached.
	Phase string `json:"phase,omitempty"`
	// Switched is seconds from the event's opening to this incident's DNS
	// switch; 0 when it has not switched.
	Switched float64 `json:"switched_seconds,omitempty"`
	Error    string  `json:"error,omitempty"`
}

// Done says whether every incident of the event has ended.
func (e *MassEvent) Done() bool { return e.Running == 0 }

// MassEvents groups incidents by their Event, newest event first; incidents
// of no event, and an event's only incident (the delivery named several
// services but found the others held already), are left out. Within an
// event, incidents are listed by service name.
func MassEvents(incs []Incident) []MassEvent {
	byID := map[string]*MassEvent{}
	var order []string
	for i := range incs {
		inc := &incs[i]
		if inc.Event == "" {
			continue
		}
		e := byID[inc.Event]
		if e == nil {
			e = &MassEvent{ID: inc.Event, OpenedAt: inc.OpenedAt, States: map[State]int{},
				reasons: map[string]bool{}, hosts: map[string]bool{}, clouds: map[string]bool{}}
			byID[inc.Event] = e
			order = append(order, inc.Event)
		}
		e.add(inc)
	}
	out := make([]MassEvent, 0, len(order))
	for _, id := range order {
		e := byID[id]
		if len(e.Incidents) < 2 {
			continue
		}
		e.finish()
		out = append(out, *e)
	}
	slices.SortStableFunc(out, func(a, b MassEvent) int { return b.OpenedAt.Compare(a.OpenedAt) })
	return out
}

func (e *MassEvent) add(inc *Incident) {
	if inc.OpenedAt.Before(e.OpenedAt) {
		e.OpenedAt = inc.OpenedAt
	}
	e.States[inc.State]++
	if inc.State.Running() {
		e.Running++
	}
	ei := EventIncident{ID: inc.ID, Service: inc.Service, State: inc.State, Error: inc.Error}
	if n := len(inc.Phases); n > 0 {
		ei.Phase = inc.Phases[n-1].Name
	}
	if inc.DNS != nil && inc.DNS.SwitchedAt != nil {
		ei.Switched = max(inc.DNS.SwitchedAt.Sub(inc.OpenedAt).Seconds(), 0)
		e.Switched++
	}
	e.Incidents = append(e.Incidents, ei)
	e.reasons[inc.Reason] = true
	e.hosts[inc.Labels["host"]] = true
	e.clouds[inc.Labels["cloud"]] = true
}

// finish sorts the incidents, times the switches from the event's opening
// and names the event's reason and scope from its incidents.
func (e *MassEvent) finish() {
	slices.SortFunc(e.Incidents, func(a, b EventIncident) int { return strings.Compare(a.Service, b.Service) })
	first := true
	for _, ei := range e.Incidents {
		if ei.Switched == 0 {
			continue
		}
		if first || ei.Switched < e.FirstSwitch {
			e.FirstSwitch = ei.Switched
		}
		e.LastSwitch = max(e.LastSwitch, ei.Switched)
		first = false
	}
	reasons, hosts, clouds := e.reasons, e.hosts, e.clouds
	e.Reason = strings.Join(slices.Sorted(maps.Keys(reasons)), ", ")
	switch {
	case len(clouds) == 1 && !clouds[""] && reasons["VCRCloudDown"]:
		e.Scope = "cloud " + only(clouds)
	case len(hosts) == 1 && !hosts[""]:
		e.Scope = "host " + only(hosts)
	case len(clouds) == 1 && !clouds[""]:
		e.Scope = "cloud " + only(clouds)
	}
}

func only(m map[string]bool) string {
	for k := range m {
		return k
	}
	return ""
}
