// Package api holds the JSON types of vcr-receiver's HTTP API and a small Go
// client for it, shared by vcrctl and the status page so that all three agree
// on one wire format.
package api

import "time"

// State is where an incident stands. An incident holds its service's single
// "open" slot until it is resolved or acknowledged, so failed and
// needs-attention incidents keep later alerts joining them rather than
// starting a second recovery behind an operator's back.
type State string

// Incident states, in pipeline order, then the end states.
const (
	StateOpen           State = "open"
	StateFencing        State = "fencing"
	StatePreparing      State = "preparing"
	StateVerifying      State = "verifying"
	StateSwitching      State = "switching"
	StateFinalizing     State = "finalizing"
	StateAborting       State = "aborting" // undoing prepare; then failed (see PhaseAbort)
	StateResolved       State = "resolved"
	StateFailed         State = "failed"
	StateNeedsAttention State = "needs-attention"
	StateAcknowledged   State = "acknowledged"
)

// Holds reports whether an incident in this state still holds its service's
// open slot (new alerts join it instead of opening another incident).
func (s State) Holds() bool {
	return s != StateResolved && s != StateAcknowledged
}

// Running reports whether the pipeline still has work to do in this state.
func (s State) Running() bool {
	switch s {
	case StateOpen, StateFencing, StatePreparing, StateVerifying, StateSwitching, StateFinalizing, StateAborting:
		return true
	}
	return false
}

// Kind says why an incident exists.
type Kind string

// Incident kinds.
const (
	KindFailover Kind = "failover" // an alert said the primary failed
	// KindManualFailover: an operator asked for a failover. The primary is
	// fenced, and the split-brain guard stops it in needs-attention while
	// an unfenced primary still answers, unless the incident is Force'd.
	KindManualFailover Kind = "manual-failover"
	// KindDrill: an operator rehearses a failover of a healthy primary,
	// which is not fenced and keeps running.
	KindDrill    Kind = "drill"
	KindFailback Kind = "failback" // an operator asked to go back to the primary
	KindScaleUp  Kind = "scaleup"  // the standby is overloaded; move to a bigger VM
)

// Phase names, in pipeline order.
const (
	PhaseDetect   = "detect"
	PhaseFence    = "fence"
	PhasePrepare  = "prepare"
	PhaseVerify   = "verify"
	PhaseSwitch   = "switch"
	PhaseFinalize = "finalize"
	PhaseAbort    = "abort" // only when a recovery is undone; not in PhaseNames
)

// PhaseNames lists the phases in the order the pipeline runs them. An
// incident records PhaseAbort after them only when its recovery was undone:
// a phase after prepare failed for good, or an operator cancelled it, and
// the strategy's Abort put the service back where it was.
var PhaseNames = []string{PhaseDetect, PhaseFence, PhasePrepare, PhaseVerify, PhaseSwitch, PhaseFinalize}

// Phase outcomes.
const (
	OutcomeRunning = "running"
	OutcomeOK      = "ok"
	OutcomeFailed  = "failed"
	OutcomeSkipped = "skipped"
)

// Incident is one recovery of one service, from the first alert to the end.
type Incident struct {
	ID       string `json:"id"`
	Service  string `json:"service"`
	Strategy string `json:"strategy"`
	State    State  `json:"state"`
	// Reason is the alert name that opened the incident, or "drill" /
	// "failback" for manual runs.
	Reason   string     `json:"reason"`
	Kind     Kind       `json:"kind"`
	OpenedAt time.Time  `json:"opened_at"`
	ClosedAt *time.Time `json:"closed_at,omitempty"`
	// Labels are the labels of the alert that opened the incident.
	Labels   map[string]string `json:"labels,omitempty"`
	Alerts   AlertSummary      `json:"alerts"`
	Phases   []Phase           `json:"phases"`
	Endpoint *Endpoint         `json:"endpoint,omitempty"`
	DNS      *DNSChange        `json:"dns,omitempty"`
	// Error says in plain words why the incident failed or needs attention.
	Error string `json:"error,omitempty"`
	// CancelRequestedAt is set when an operator asked to cancel the
	// recovery: the pipeline stops at its next journaled point, undoes
	// prepare (PhaseAbort) and ends the incident failed.
	CancelRequestedAt *time.Time `json:"cancel_requested_at,omitempty"`
	// AcknowledgedAt is set when an operator acknowledged the incident.
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	// Revision increases with every change; the journal keeps the newest.
	Revision uint64 `json:"revision"`
	// Owner is the receiver replica running the incident when several
	// replicas share an etcd journal; empty with the embedded journal.
	Owner string `json:"owner,omitempty"`
	// Force: an operator's manual failover that switches even while the
	// unfenced primary still answers (the split-brain guard is off).
	Force bool `json:"force,omitempty"`
	// Event is the mass event the incident belongs to: the ID shared by
	// every incident one webhook delivery opened when it opened several
	// (a host or cloud down, a group of failures). Empty for an incident
	// opened alone. See MassEvents.
	Event string `json:"event,omitempty"`
}

// Phase returns the named phase record, or nil if the pipeline has not
// reached it.
func (inc *Incident) Phase(name string) *Phase {
	for i := range inc.Phases {
		if inc.Phases[i].Name == name {
			return &inc.Phases[i]
		}
	}
	return nil
}

// SwitchBegun reports whether the switch phase has begun: from then on
// clients may reach the new endpoint, so the recovery can no longer be
// cancelled.
func (inc *Incident) SwitchBegun() bool {
	return inc.Phase(PhaseSwitch) != nil || (inc.DNS != nil && inc.DNS.SwitchStartedAt != nil)
}

// Undone reports whether the strategy's Abort undid prepare (or may have,
// partly: an abort that failed): prepare and what followed it must run
// again before the service can move.
func (inc *Incident) Undone() bool {
	ab := inc.Phase(PhaseAbort)
	return ab != nil && (ab.Outcome == OutcomeOK || ab.Outcome == OutcomeFailed)
}

// AlertSummary counts the alerts that joined an incident and says where the
// first and last came from (fast path or rule path, which Alertmanager).
type AlertSummary struct {
	Count            int            `json:"count"`
	Resolved         int            `json:"resolved"`
	FirstFingerprint string         `json:"first_fingerprint,omitempty"`
	LastFingerprint  string         `json:"last_fingerprint,omitempty"`
	FirstSource      string         `json:"first_source,omitempty"`
	LastSource       string         `json:"last_source,omitempty"`
	FirstAt          time.Time      `json:"first_at"`
	LastAt           time.Time      `json:"last_at"`
	BySource         map[string]int `json:"by_source,omitempty"`
}

// Phase is one step of the pipeline as it ran.
type Phase struct {
	Name            string     `json:"name"`
	StartedAt       time.Time  `json:"started_at"`
	EndedAt         *time.Time `json:"ended_at,omitempty"`
	DurationSeconds float64    `json:"duration_seconds"`
	// Outcome is "running", "ok", "failed" or "skipped".
	Outcome  string   `json:"outcome"`
	Error    string   `json:"error,omitempty"`
	Attempts int      `json:"attempts"`
	Messages []string `json:"messages,omitempty"`
}

// Endpoint is where the recovered service listens.
type Endpoint struct {
	Address string            `json:"address"`
	Port    int               `json:"port"`
	Details map[string]string `json:"details,omitempty"`
}

// DNSChange records the switch: the RRset before and after. SwitchStartedAt
// is journaled before the UPDATE is sent and SwitchedAt after it is
// verified, so a restarted receiver knows whether a switch may have happened.
type DNSChange struct {
	Name            string     `json:"name"`
	Zone            string     `json:"zone"`
	Before          []string   `json:"before,omitempty"`
	After           []string   `json:"after,omitempty"`
	SwitchStartedAt *time.Time `json:"switch_started_at,omitempty"`
	SwitchedAt      *time.Time `json:"switched_at,omitempty"`
}

// Service locations.
const (
	LocationPrimary  = "primary"
	LocationStandby  = "standby"
	LocationBiggerVM = "bigger-vm"
)

// ServiceStatus is where a configured service runs now.
type ServiceStatus struct {
	Name     string `json:"name"`
	Strategy string `json:"strategy"`
	DNSName  string `json:"dns_name"`
	// Location is "primary", "standby" or "bigger-vm", following the last
	// completed recovery.
	Location       string `json:"location"`
	CurrentAddress string `json:"current_address,omitempty"`
	// OpenIncident is the ID of the incident holding the service, if any.
	OpenIncident string `json:"open_incident,omitempty"`
	// Actions are the operator's runs the receiver would accept now
	// (manual failover and drill on the primary, failback elsewhere), each
	// with its plan; none while an incident holds the service.
	Actions []Plan `json:"actions,omitempty"`
}

// Plan says what a run of one kind would do to a service, phase by phase,
// in the words of the receiver's pipeline: confirmation pages and vcrctl
// show it before an operator starts the run, so they name exactly the
// phases that will run.
type Plan struct {
	Service string     `json:"service"`
	Kind    Kind       `json:"kind"`
	Force   bool       `json:"force,omitempty"`
	Steps   []PlanStep `json:"steps"`
}

// PlanStep is one phase of a Plan: what it does, or why it is skipped.
type PlanStep struct {
	Phase string `json:"phase"`
	Runs  bool   `json:"runs"`
	Does  string `json:"does"`
}

// Running lists the phases that will run, in order.
func (p Plan) Running() []string {
	var out []string
	for _, s := range p.Steps {
		if s.Runs {
			out = append(out, s.Phase)
		}
	}
	return out
}

// Lines says the plan phase by phase, one line each: "fence: destroy ..."
// or "fence: skipped (...)".
func (p Plan) Lines() []string {
	out := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		if s.Runs {
			out[i] = s.Phase + ": " + s.Does
		} else {
			out[i] = s.Phase + ": skipped (" + s.Does + ")"
		}
	}
	return out
}

// Error is the body of every non-2xx answer.
type Error struct {
	Error string `json:"error"`
}

// AlertsResponse is the body of a 200 answer to the webhook.
type AlertsResponse struct {
	// Accepted is how many alerts were journaled.
	Accepted int `json:"accepted"`
	// Incidents are the IDs of the incidents the alerts opened or joined.
	Incidents []string `json:"incidents,omitempty"`
}
