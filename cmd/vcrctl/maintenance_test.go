package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// fakeAlertmanager keeps silences the way Alertmanager's v2 API does.
type fakeAlertmanager struct {
	mu       sync.Mutex
	silences []silence
}

func newFakeAlertmanager(t *testing.T) (*fakeAlertmanager, *httptest.Server) {
	am := &fakeAlertmanager{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v2/silences", func(w http.ResponseWriter, r *http.Request) {
		var s silence
		if err := json.NewDecoder(r.Body).Decode(&s); err != nil || len(s.Matchers) == 0 || s.Comment == "" || s.CreatedBy == "" {
			http.Error(w, "bad silence", 400)
			return
		}
		am.mu.Lock()
		s.ID = "s" + string(rune('0'+len(am.silences)))
		s.Status = &struct {
			State string `json:"state"`
		}{"active"}
		am.silences = append(am.silences, s)
		am.mu.Unlock()
		reply(w, 200, map[string]string{"silenceID": s.ID})
	})
	mux.HandleFunc("GET /api/v2/silences", func(w http.ResponseWriter, _ *http.Request) {
		am.mu.Lock()
		defer am.mu.Unlock()
		reply(w, 200, am.silences)
	})
	mux.HandleFunc("DELETE /api/v2/silence/{id}", func(w http.ResponseWriter, r *http.Request) {
		am.mu.Lock()
		defer am.mu.Unlock()
		for i := range am.silences {
			if am.silences[i].ID == r.PathValue("id") {
				am.silences[i].Status.State = "expired"
			}
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return am, srv
}

// maintenanceReceiver serves the receiver's maintenance API for one window.
func maintenanceReceiver(t *testing.T) (*[]api.MaintenanceRequest, *httptest.Server) {
	var mu sync.Mutex
	var reqs []api.MaintenanceRequest
	var win *api.Maintenance
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/maintenance", func(w http.ResponseWriter, r *http.Request) {
		var req api.MaintenanceRequest
		json.NewDecoder(r.Body).Decode(&req)
		d, _ := time.ParseDuration(req.Duration)
		mu.Lock()
		defer mu.Unlock()
		reqs = append(reqs, req)
		win = &api.Maintenance{ID: "mw-1", Service: req.Service, Services: []string{"web"}, StartsAt: fixedNow, EndsAt: fixedNow.Add(d),
			Comment: req.Comment, CreatedBy: req.CreatedBy, Active: true, Matchers: [][]api.Matcher{
				{{Name: "service", Value: "web", IsEqual: true}},
				{{Name: "domain", Value: "web01", IsEqual: true}, {Name: "host", Value: "hv1|", IsRegex: true, IsEqual: true}}}}
		reply(w, 201, win)
	})
	mux.HandleFunc("GET /api/v1/maintenance", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if win == nil {
			reply(w, 200, []api.Maintenance{})
			return
		}
		reply(w, 200, []api.Maintenance{*win})
	})
	mux.HandleFunc("DELETE /api/v1/maintenance/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if win == nil || r.PathValue("id") != win.ID {
			reply(w, 404, api.Error{Error: "no maintenance window " + r.PathValue("id")})
			return
		}
		if !win.Active {
			reply(w, 409, api.Error{Error: "maintenance window mw-1 ended already"})
			return
		}
		ended := fixedNow.Add(time.Minute)
		win.EndedAt, win.Active, win.DeclinedTotal = &ended, false, 3
		reply(w, 200, win)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &reqs, srv
}

// TestMaintenanceCommands: start records the window at the receiver and
// silences its alerts in Alertmanager until it ends; stop ends it and
// expires those silences; list shows it. Each asks first.
func TestMaintenanceCommands(t *testing.T) {
	am, amSrv := newFakeAlertmanager(t)
	reqs, srv := maintenanceReceiver(t)
	t.Setenv("VCR_TOKEN", "")
	base := []string{"--receiver.url", srv.URL, "maintenance", "--alertmanager.url", amSrv.URL}

	if _, errOut, code := vcrctlAnswering(t, "n\n", append(base, "start", "web", "--for", "2h", "--comment", "kernel update")...); code != 1 ||
		!strings.Contains(errOut, "Open a 2h0m0s maintenance window for service web (kernel update)?") || !strings.Contains(errOut, "Alertmanager "+amSrv.URL+" silences") || len(*reqs) != 0 {
		t.Fatalf("declined start: exit %d, %d requests, stderr %q", code, len(*reqs), errOut)
	}
	out, errOut, code := vcrctlAnswering(t, "y\n", append(base, "start", "web", "--for", "2h", "--comment", "kernel update", "--created-by", "ops")...)
	if code != 0 {
		t.Fatalf("start: exit %d: %s", code, errOut)
	}
	if len(*reqs) != 1 || (*reqs)[0] != (api.MaintenanceRequest{Service: "web", Duration: "2h0m0s", Comment: "kernel update", CreatedBy: "ops"}) {
		t.Fatalf("receiver got %+v", *reqs)
	}
	if !strings.Contains(out, "maintenance window mw-1: service web (web) until 2026-11-25 12:00 UTC") || !strings.Contains(out, "silenced in "+amSrv.URL+": s0, s1") {
		t.Errorf("start printed %q", out)
	}
	if len(am.silences) != 2 || !am.silences[0].EndsAt.Equal(fixedNow.Add(2*time.Hour)) || am.silences[0].Comment != "kernel update [vcr-maintenance mw-1]" ||
		am.silences[1].Matchers[1].Value != "hv1|" || am.silences[0].CreatedBy != "ops" {
		t.Fatalf("silences = %+v", am.silences)
	}

	out, _, code = vcrctl(t, "--receiver.url", srv.URL, "maintenance", "list")
	if code != 0 || !strings.Contains(out, "mw-1  service web  active  2026-11-25 12:00 UTC  0         web       kernel update") {
		t.Errorf("list: exit %d\n%s", code, out)
	}

	out, errOut, code = vcrctl(t, append(base, "--yes", "stop", "mw-1")...)
	if code != 0 || !strings.Contains(out, "expired 2 silence(s) in "+amSrv.URL) || !strings.Contains(out, "3 alert(s) were declined") {
		t.Fatalf("stop: exit %d, %q %q", code, out, errOut)
	}
	for _, s := range am.silences {
		if s.Status.State != "expired" {
			t.Errorf("silence %s still %s after stop", s.ID, s.Status.State)
		}
	}
	if _, errOut, code := vcrctl(t, append(base, "--yes", "stop", "mw-1")...); code != 1 || !strings.Contains(errOut, "refused: maintenance window mw-1 ended already") {
		t.Errorf("second stop: exit %d, %q", code, errOut)
	}

	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"start", "web", "--host", "hv1", "--for", "1h", "--comment", "x"}, "exactly one of SERVICE, --host and --cloud"},
		{[]string{"start", "web", "--comment", "x"}, "--for"},
		{[]string{"start", "web", "--for", "1h"}, "--comment"},
	} {
		if _, errOut, code := vcrctl(t, append(base, tc.args...)...); code != 2 || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d, %q; want 2 with %q", tc.args, code, errOut, tc.msg)
		}
	}
	if _, errOut, code := vcrctl(t, "--receiver.url", srv.URL, "maintenance", "start", "web", "--for", "1h", "--comment", "x"); code != 2 || !strings.Contains(errOut, "--no-silence") {
		t.Errorf("no Alertmanager: exit %d, %q", code, errOut)
	}
}
