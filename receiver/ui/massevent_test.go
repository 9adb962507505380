package ui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// TestIndexMassEvent: 30 incidents one host failure opened show as one
// block with their progress, not as 30 incident blocks; an incident of no
// event still shows on its own.
func TestIndexMassEvent(t *testing.T) {
	opened := fixedNow.Add(-time.Minute)
	var incs []api.Incident
	for i := range 30 {
		inc := api.Incident{ID: fmt.Sprintf("ev-%02d", i), Service: fmt.Sprintf("s%02d", i), Kind: api.KindFailover, Reason: "VCRHostHeartbeatLost",
			OpenedAt: opened, Labels: map[string]string{"host": "hv1"}, Event: "20261125-095900-hv1-abcdef", State: api.StateResolved,
			Phases: []api.Phase{{Name: api.PhaseDetect, StartedAt: opened, Outcome: api.OutcomeOK}}}
		switch {
		case i < 20:
			at := opened.Add(time.Duration(i+1) * 100 * time.Millisecond)
			inc.DNS = &api.DNSChange{SwitchedAt: &at}
		case i < 28:
			inc.State = api.StatePreparing
			inc.Phases = append(inc.Phases, api.Phase{Name: api.PhasePrepare, StartedAt: opened, Outcome: api.OutcomeRunning})
		default:
			inc.State, inc.Error = api.StateFailed, "prepare failed: standby full"
		}
		incs = append(incs, inc)
	}
	alone := api.Incident{ID: "alone", Service: "web", Kind: api.KindDrill, Reason: "drill", OpenedAt: opened, State: api.StatePreparing}
	incs = append(incs, alone)
	src := Funcs{IncidentsFunc: func(context.Context) ([]api.Incident, error) { return incs, nil }}
	code, doc, body := get(t, newTestHandler(src, Options{}), "/")
	if code != 200 {
		t.Fatalf("GET / = %d", code)
	}
	events := find(doc, func(n *html.Node) bool { return attr(n, "data-event") != "" })
	if len(events) != 1 || attr(events[0], "data-incidents") != "30" {
		t.Fatalf("%d event blocks, want one of 30 incidents", len(events))
	}
	rows := find(events[0], func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-incident") != "" })
	if len(rows) != 30 || !strings.HasPrefix(attr(rows[0], "data-incident"), "ev-2") || !strings.Contains(text(rows[0]), "standby full") {
		t.Fatalf("%d rows, first %q; want 30 with the failed ones first", len(rows), text(rows[0]))
	}
	head := text(events[0])
	for _, want := range []string{"host hv1 down (VCRHostHeartbeatLost)", "20 of 30 switched; 8 preparing, 2 failed", "First switch +100ms, last +2.00s"} {
		if !strings.Contains(head, want) {
			t.Errorf("event block lacks %q: %s", want, head)
		}
	}
	var open []string
	for _, n := range find(byID(doc, "open-incidents"), func(n *html.Node) bool { return n.Data == "article" }) {
		open = append(open, attr(n, "data-incident"))
	}
	if strings.Join(open, ",") != "alone" {
		t.Fatalf("open incident blocks %v, want only the one of no event", open)
	}
	if strings.Count(body, `data-incident="ev-05"`) != 1 {
		t.Error("an event's incident is listed outside its event")
	}
}
