package ui

// The operator's runs the page offers (manual failover, drill, failback),
// acknowledgements and cancels: their buttons, and the confirmation page
// that lists a run's phases from the receiver's plan before it posts.

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// actionView is one operator's run offered for a service: its button, and
// the question and phases confirmed before it starts, taken from the
// receiver's plan so they name exactly the phases that will run.
type actionView struct {
	Action, Label, Question, PostURL string
	Steps                            []string
	// Prompt is the question and the steps, for the script's confirm().
	Prompt string
}

// runActions maps the runs an operator can start to the action names the
// page's forms use, their buttons and their API paths.
var runActions = map[api.Kind]struct{ action, label, path string }{
	api.KindManualFailover: {"failover", "Fail over", "/failover"},
	api.KindDrill:          {"drill", "Failover drill", "/drill"},
	api.KindFailback:       {"failback", "Fail back", "/failback"},
}

func (h *handler) actionOf(plan api.Plan) (actionView, bool) {
	ra, ok := runActions[plan.Kind]
	if !ok {
		return actionView{}, false
	}
	q := map[api.Kind]string{
		api.KindManualFailover: "Fail " + plan.Service + " over to its standby?",
		api.KindDrill:          "Run a failover drill of " + plan.Service + "?",
		api.KindFailback:       "Fail " + plan.Service + " back to its primary?",
	}[plan.Kind]
	steps := plan.Lines()
	return actionView{Action: ra.action, Label: ra.label, Question: q, Steps: steps, Prompt: q + "\n\n" + strings.Join(steps, "\n"),
		PostURL: h.opts.APIBase + "/api/v1/services/" + url.PathEscape(plan.Service) + ra.path}, true
}

// incidentActions are the actions on one incident, by the name the page's
// forms use: the question's verb, what it does, the button and the API path.
var incidentActions = map[string]struct{ verb, explain, button, path string }{
	"ack": {"Acknowledge", "Acknowledging records that an operator has seen this incident and frees its service, so the next failure starts a new recovery.",
		"Acknowledge", "/acknowledge"},
	"cancel": {"Cancel", "The recovery stops at its next step and its strategy undoes what it prepared (a scale-up un-freezes its source, a cold restore is removed); " +
		"the incident then ends failed and holds its service until acknowledged. The receiver refuses once the DNS switch has started.",
		"Cancel the recovery", "/cancel"},
}

type confirmView struct {
	Action, Target, Question, Explain, Button, PostURL string
	Steps                                              []string // the phases that will run, or why each is skipped
}

// confirm is the no-JavaScript path for actions: the page's forms GET here
// first, and this page's form POSTs to the API.
func (h *handler) confirm(w http.ResponseWriter, r *http.Request) {
	if h.opts.ReadOnly {
		http.Error(w, "This status page is read-only.", http.StatusForbidden)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	defer cancel()
	action, target := r.URL.Query().Get("action"), r.URL.Query().Get("target")
	cv, code, problem := h.confirmation(ctx, action, target)
	if code != http.StatusOK {
		http.Error(w, problem, code)
		return
	}
	p := h.base("Confirm")
	p.Confirm = &cv
	h.render(w, http.StatusOK, "confirm.html", p)
}

// confirmation builds the confirmation of an action. A run's question and
// phases come from the plan the receiver offers for the service now; a run
// it does not offer (an open incident, another location) is refused.
func (h *handler) confirmation(ctx context.Context, action, target string) (confirmView, int, string) {
	if target == "" {
		return confirmView{}, http.StatusBadRequest, "Missing target: use the buttons on the status page."
	}
	if ia, ok := incidentActions[action]; ok {
		return confirmView{Action: action, Target: target, Question: ia.verb + " incident " + target + "?", Explain: ia.explain, Button: ia.button,
			PostURL: h.opts.APIBase + "/api/v1/incidents/" + url.PathEscape(target) + ia.path}, http.StatusOK, ""
	}
	known := false
	for _, ra := range runActions {
		known = known || ra.action == action
	}
	if !known {
		return confirmView{}, http.StatusBadRequest, "Unknown action: use the buttons on the status page."
	}
	svcs, err := h.src.Services(ctx)
	if err != nil {
		return confirmView{}, http.StatusBadGateway, h.problem("services", err)
	}
	for _, s := range svcs {
		if s.Name != target {
			continue
		}
		for _, plan := range s.Actions {
			if av, ok := h.actionOf(plan); ok && av.Action == action {
				return confirmView{Action: action, Target: target, Question: av.Question, Button: av.Label, PostURL: av.PostURL,
					Explain: "These phases run, in this order:", Steps: av.Steps}, http.StatusOK, ""
			}
		}
		return confirmView{}, http.StatusConflict, "The receiver does not offer a " + action + " of " + target + " now: it has an open incident or runs elsewhere. Go back to the status page."
	}
	return confirmView{}, http.StatusNotFound, "No service " + target + ": use the buttons on the status page."
}
