package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestClient(t *testing.T) {
	var gotAuth, gotPath, gotMethod, gotQuery string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPath, gotMethod, gotQuery = r.Header.Get("Authorization"), r.URL.Path, r.Method, r.URL.RawQuery
		switch r.URL.Path {
		case "/api/v1/incidents":
			json.NewEncoder(w).Encode([]Incident{{ID: "a", State: StateResolved}})
		case "/api/v1/incidents/missing":
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(Error{Error: "no incident missing"})
		default:
			json.NewEncoder(w).Encode(Incident{ID: "new", Kind: KindDrill})
		}
	}))
	defer srv.Close()
	c := New(srv.URL+"/", "tok")
	ctx := context.Background()

	incs, err := c.Incidents(ctx)
	if err != nil || len(incs) != 1 || incs[0].ID != "a" {
		t.Fatalf("Incidents = %v, %v", incs, err)
	}
	if gotAuth != "Bearer tok" {
		t.Errorf("Authorization = %q", gotAuth)
	}
	inc, err := c.Failover(ctx, "web", false)
	if err != nil || inc.ID != "new" || gotMethod != http.MethodPost || gotPath != "/api/v1/services/web/failover" || gotQuery != "" {
		t.Fatalf("Failover = %v, %v (%s %s?%s)", inc, err, gotMethod, gotPath, gotQuery)
	}
	if _, err := c.Failover(ctx, "web", true); err != nil || gotQuery != "force=true" {
		t.Fatalf("forced Failover = %v (query %q)", err, gotQuery)
	}
	if _, err := c.Drill(ctx, "web"); err != nil || gotMethod != http.MethodPost || gotPath != "/api/v1/services/web/drill" {
		t.Fatalf("Drill = %v (%s %s)", err, gotMethod, gotPath)
	}
	_, err = c.Incident(ctx, "missing")
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 404 || se.Message != "no incident missing" {
		t.Fatalf("Incident(missing) error = %v", err)
	}
}

func TestStateHolds(t *testing.T) {
	for s, want := range map[State]bool{StateOpen: true, StateFailed: true, StateNeedsAttention: true, StateResolved: false, StateAcknowledged: false} {
		if s.Holds() != want {
			t.Errorf("%s.Holds() = %v", s, !want)
		}
	}
}

func TestPlanLines(t *testing.T) {
	p := Plan{Service: "web", Kind: KindDrill, Steps: []PlanStep{
		{Phase: "fence", Runs: false, Does: "drill: the primary is healthy and stays up"},
		{Phase: "prepare", Runs: true, Does: "strategy plugin warm brings web up"},
	}}
	if got := p.Running(); len(got) != 1 || got[0] != "prepare" {
		t.Errorf("Running = %v", got)
	}
	want := []string{"fence: skipped (drill: the primary is healthy and stays up)", "prepare: strategy plugin warm brings web up"}
	if got := p.Lines(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Lines = %q, want %q", got, want)
	}
}
