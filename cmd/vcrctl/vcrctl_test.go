package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/internal/testfixture"
	"github.com/vcrcovery/vcrcovery/receiver/api"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var fixedNow = testfixture.Now

const (
	testToken    = "s3cret-token"
	testPassword = "operator pass"
)

// fakePlan is what the fake receiver plans: the fence runs for a manual
// failover (forced or not), is skipped otherwise.
func fakePlan(service string, kind api.Kind, force bool) api.Plan {
	fence := api.PlanStep{Phase: "fence", Runs: true, Does: "destroy the primary " + service + "01 through libvirt on hv1; then stop in needs-attention if the primary still answers"}
	switch {
	case force:
		fence.Does = "destroy the primary " + service + "01 through libvirt on hv1; then switch even if the primary still answers (forced)"
	case kind == api.KindDrill:
		fence = api.PlanStep{Phase: "fence", Does: "drill: the primary is healthy and stays up"}
	case kind == api.KindFailback:
		fence = api.PlanStep{Phase: "fence", Does: "failback: the primary is the target"}
	}
	return api.Plan{Service: service, Kind: kind, Force: force, Steps: []api.PlanStep{fence,
		{Phase: "prepare", Runs: true, Does: "strategy plugin cold brings " + service + " up on its target"},
		{Phase: "verify", Runs: true, Does: "check the endpoint"},
		{Phase: "switch", Runs: true, Does: "point " + service + ".example.test. at the endpoint"},
		{Phase: "finalize", Runs: kind != api.KindFailback, Does: "strategy plugin cold finalizes"}}}
}

// fakeReceiver serves the fixture incidents and services the way
// vcr-receiver's API does, and records the actions it was asked for.
type fakeReceiver struct {
	mu        sync.Mutex
	incidents []api.Incident
	services  []api.ServiceStatus
	actions   []string
	// lists are the queries of GET /api/v1/incidents, in order.
	lists []string
}

func newFakeReceiver(t *testing.T) (*fakeReceiver, *httptest.Server) {
	t.Helper()
	f := &fakeReceiver{}
	f.incidents = testfixture.Incidents(t)
	testfixture.ReadJSON(t, "testdata/services.json", &f.services)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/services", func(w http.ResponseWriter, _ *http.Request) { reply(w, 200, f.services) })
	mux.HandleFunc("GET /api/v1/incidents", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.lists = append(f.lists, r.URL.RawQuery)
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		if limit == 0 {
			reply(w, 200, f.incidents)
			return
		}
		// As the receiver pages: the cursor is where the next page starts.
		from, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		to := min(from+limit, len(f.incidents))
		if to < len(f.incidents) {
			w.Header().Set(api.NextCursorHeader, strconv.Itoa(to))
		}
		reply(w, 200, f.incidents[from:to])
	})
	var capacity api.Capacity
	testfixture.ReadJSON(t, "testdata/capacity.json", &capacity)
	mux.HandleFunc("GET /api/v1/capacity", func(w http.ResponseWriter, _ *http.Request) { reply(w, 200, capacity) })
	mux.HandleFunc("GET /api/v1/events", func(w http.ResponseWriter, _ *http.Request) { reply(w, 200, api.MassEvents(hostDownIncidents())) })
	mux.HandleFunc("GET /api/v1/incidents/{id}", func(w http.ResponseWriter, r *http.Request) {
		if inc := f.incident(r.PathValue("id")); inc != nil {
			reply(w, 200, inc)
			return
		}
		reply(w, 404, api.Error{Error: "no incident " + r.PathValue("id") + ": list them with GET /api/v1/incidents"})
	})
	manual := func(kind api.Kind) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			name := r.PathValue("name")
			f.mu.Lock()
			f.actions = append(f.actions, string(kind)+" "+name)
			f.mu.Unlock()
			for _, s := range f.services {
				if s.Name == name && s.OpenIncident != "" {
					reply(w, 409, api.Error{Error: "service " + name + " already has incident " + s.OpenIncident + ": wait for it or acknowledge it first"})
					return
				}
			}
			reply(w, 202, api.Incident{ID: "20261125T100000Z-" + name, Service: name, Strategy: "cold", State: api.StateOpen, Kind: kind, Reason: string(kind), OpenedAt: fixedNow})
		}
	}
	mux.HandleFunc("GET /api/v1/services/{name}/plan", func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, fakePlan(r.PathValue("name"), api.Kind(r.URL.Query().Get("kind")), r.URL.Query().Get("force") == "true"))
	})
	mux.HandleFunc("POST /api/v1/services/{name}/failover", manual(api.KindManualFailover))
	mux.HandleFunc("POST /api/v1/services/{name}/drill", manual(api.KindDrill))
	mux.HandleFunc("POST /api/v1/services/{name}/failback", manual(api.KindFailback))
	mux.HandleFunc("POST /api/v1/incidents/{id}/retry", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.actions = append(f.actions, "retry "+r.PathValue("id"))
		f.mu.Unlock()
		inc := f.incident(r.PathValue("id"))
		if inc == nil {
			reply(w, 404, api.Error{Error: "no incident " + r.PathValue("id")})
			return
		}
		if inc.State != api.StateFailed {
			reply(w, 409, api.Error{Error: "incident " + inc.ID + " is " + string(inc.State) + ": only a failed incident can be retried"})
			return
		}
		resumed := *inc
		resumed.State = api.StateOpen
		reply(w, 202, resumed)
	})
	mux.HandleFunc("POST /api/v1/incidents/{id}/acknowledge", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.actions = append(f.actions, "ack "+r.PathValue("id"))
		f.mu.Unlock()
		inc := f.incident(r.PathValue("id"))
		if inc == nil {
			reply(w, 404, api.Error{Error: "no incident " + r.PathValue("id")})
			return
		}
		ack := *inc
		ack.State = api.StateAcknowledged
		reply(w, 200, ack)
	})
	mux.HandleFunc("POST /api/v1/incidents/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.actions = append(f.actions, "cancel "+r.PathValue("id"))
		f.mu.Unlock()
		inc := f.incident(r.PathValue("id"))
		switch {
		case inc == nil:
			reply(w, 404, api.Error{Error: "no incident " + r.PathValue("id")})
		case !inc.State.Running():
			reply(w, 409, api.Error{Error: "incident " + inc.ID + " is " + string(inc.State) + ": there is no running recovery to cancel"})
		default:
			cancelled := *inc
			cancelled.CancelRequestedAt = &fixedNow
			reply(w, 202, cancelled)
		}
	})
	// Like the receiver, the fake refuses cross-origin browser requests.
	srv := httptest.NewServer(http.NewCrossOriginProtection().Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok && u == "operator" && p == testPassword {
			mux.ServeHTTP(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			reply(w, 401, api.Error{Error: "missing or wrong credentials"})
			return
		}
		mux.ServeHTTP(w, r)
	})))
	t.Cleanup(srv.Close)
	return f, srv
}

// hostDownIncidents are the four incidents one VCRHostHeartbeatLost of
// host hv2 opened: two switched, one preparing, one failed.
func hostDownIncidents() []api.Incident {
	opened := fixedNow.Add(-90 * time.Second)
	var out []api.Incident
	for i, st := range []api.State{api.StateResolved, api.StateResolved, api.StatePreparing, api.StateFailed} {
		inc := api.Incident{ID: fmt.Sprintf("20261125T095830Z-app%d", i), Service: fmt.Sprintf("app%d", i), State: st, Kind: api.KindFailover,
			Reason: "VCRHostHeartbeatLost", OpenedAt: opened, Labels: map[string]string{"host": "hv2"}, Event: "20261125-095830-hv2-0a1b2c",
			Phases: []api.Phase{{Name: api.PhaseDetect, StartedAt: opened, Outcome: api.OutcomeOK}}}
		switch st {
		case api.StateResolved:
			at := opened.Add(time.Duration(400+i*900) * time.Millisecond)
			inc.DNS = &api.DNSChange{SwitchedAt: &at}
			inc.Phases = append(inc.Phases, api.Phase{Name: api.PhaseFinalize, Outcome: api.OutcomeOK})
		case api.StatePreparing:
			inc.Phases = append(inc.Phases, api.Phase{Name: api.PhasePrepare, Outcome: api.OutcomeRunning})
		case api.StateFailed:
			inc.Error = "prepare failed: standby hv-standby has no free memory"
			inc.Phases = append(inc.Phases, api.Phase{Name: api.PhasePrepare, Outcome: api.OutcomeFailed})
		}
		out = append(out, inc)
	}
	return out
}

func (f *fakeReceiver) incident(id string) *api.Incident {
	for i := range f.incidents {
		if f.incidents[i].ID == id {
			return &f.incidents[i]
		}
	}
	return nil
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// vcrctl runs the CLI in-process with the fixed clock and no answer on
// stdin.
func vcrctl(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return vcrctlAnswering(t, "", args...)
}

// vcrctlAnswering runs the CLI with answer on stdin.
func vcrctlAnswering(t *testing.T, answer string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{stdin: strings.NewReader(answer), stdout: &out, stderr: &errb, now: func() time.Time { return fixedNow }}
	code = a.execute(args)
	return out.String(), errb.String(), code
}

func TestGoldenOutput(t *testing.T) {
	_, srv := newFakeReceiver(t)
	t.Setenv("VCR_TOKEN", testToken)
	tests := []struct {
		golden string
		args   []string
	}{
		{"status", []string{"status"}},
		{"status-json", []string{"status", "-o", "json"}},
		{"incidents", []string{"incidents"}},
		{"incidents-open", []string{"incidents", "--open"}},
		{"incidents-web", []string{"incidents", "--service", "web", "--limit", "1"}},
		{"show-resolved", []string{"show", "20261125T094500Z-db"}},
		{"show-running", []string{"show", "20261125T095958Z-web"}},
		{"show-needs-attention", []string{"show", "20261125T080000Z-api"}},
		{"cost", []string{"cost", "--cost.file", "../../cost/testdata/paper.yml"}},
		{"capacity", []string{"capacity"}},
		{"events", []string{"events"}},
		{"event", []string{"events", "20261125-095830-hv2-0a1b2c"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			out, errOut, code := vcrctl(t, append([]string{"--receiver.url", srv.URL}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			testfixture.Golden(t, filepath.Join("testdata", tt.golden+".golden"), out, *update)
		})
	}
}

func TestShowJSONRoundTrips(t *testing.T) {
	f, srv := newFakeReceiver(t)
	t.Setenv("VCR_TOKEN", testToken)
	out, errOut, code := vcrctl(t, "--receiver.url", srv.URL, "show", "-o", "json", "20261125T094500Z-db")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var inc api.Incident
	if err := json.Unmarshal([]byte(out), &inc); err != nil {
		t.Fatalf("-o json is not an incident: %v\n%s", err, out)
	}
	if inc.ID != f.incidents[1].ID || len(inc.Phases) != 6 || inc.DNS == nil || inc.DNS.After[0] != "127.0.0.2" {
		t.Errorf("round trip lost data: %+v", inc)
	}
}

func TestActions(t *testing.T) {
	f, srv := newFakeReceiver(t)
	failed := f.incidents[2]
	failed.ID, failed.State = "20261125T070000Z-api", api.StateFailed
	f.incidents = append(f.incidents, failed)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VCR_TOKEN", "")
	base := []string{"--receiver.url", srv.URL, "--token-file", tokenFile, "--yes"}
	tests := []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"failover", "db"}, 0, "db: incident 20261125T100000Z-db is open (follow with: vcrctl show 20261125T100000Z-db)", ""},
		{[]string{"failback", "db"}, 0, "db: incident 20261125T100000Z-db is open", ""},
		{[]string{"failover", "web"}, 1, "", "refused: service web already has incident 20261125T095958Z-web"},
		{[]string{"ack", "20261125T080000Z-api"}, 0, "api: incident 20261125T080000Z-api is acknowledged", ""},
		{[]string{"ack", "nope"}, 1, "", "receiver answered 404: no incident nope"},
		{[]string{"incident", "retry", "20261125T070000Z-api"}, 0, "api: incident 20261125T070000Z-api is open", ""},
		{[]string{"incidents", "retry", "20261125T080000Z-api"}, 1, "", "refused: incident 20261125T080000Z-api is needs-attention"},
		{[]string{"incident", "retry"}, 2, "", "usage: vcrctl incidents retry ID"},
		{[]string{"incident", "cancel", "20261125T095958Z-web"}, 0, "web: cancel of incident 20261125T095958Z-web requested", ""},
		{[]string{"incident", "cancel", "20261125T094500Z-db"}, 1, "", "refused: incident 20261125T094500Z-db is resolved: there is no running recovery to cancel"},
		{[]string{"incident", "cancel"}, 2, "", "usage: vcrctl incidents cancel ID"},
		{[]string{"show", "nope"}, 1, "", "receiver answered 404"},
		{[]string{"show"}, 2, "", "want 1 argument(s), got 0"},
		{[]string{"status", "-o", "yaml"}, 2, "", `-o "yaml": use table or json`},
	}
	for _, tt := range tests {
		out, errOut, code := vcrctl(t, append(base, tt.args...)...)
		if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.err) {
			t.Errorf("vcrctl %v: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				tt.args, code, out, errOut, tt.code, tt.out, tt.err)
		}
	}
	want := []string{"manual-failover db", "failback db", "manual-failover web", "ack 20261125T080000Z-api", "ack nope",
		"retry 20261125T070000Z-api", "retry 20261125T080000Z-api", "cancel 20261125T095958Z-web", "cancel 20261125T094500Z-db"}
	if strings.Join(f.actions, "|") != strings.Join(want, "|") {
		t.Errorf("receiver saw actions %q, want %q", f.actions, want)
	}
}

func TestAuthFailureIsClear(t *testing.T) {
	_, srv := newFakeReceiver(t)
	t.Setenv("VCR_TOKEN", "wrong")
	_, errOut, code := vcrctl(t, "--receiver.url", srv.URL, "status")
	if code != 1 || !strings.Contains(errOut, "401") {
		t.Errorf("exit %d, stderr %q; want exit 1 naming the 401", code, errOut)
	}
	_, errOut, code = vcrctl(t, "--receiver.url", "http://127.0.0.1:1", "status")
	if code != 1 || !strings.Contains(errOut, "is vcr-receiver running at http://127.0.0.1:1?") {
		t.Errorf("unreachable receiver: exit %d, stderr %q", code, errOut)
	}
}

func TestCostWithoutReceiverStillPrints(t *testing.T) {
	out, errOut, code := vcrctl(t, "--receiver.url", "http://127.0.0.1:1", "cost", "--cost.file", "../../cost/testdata/paper.yml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "$15,189.84 saved") || !strings.Contains(errOut, "recovery times not shown") {
		t.Errorf("stdout %q\nstderr %q", out, errOut)
	}
	out, _, code = vcrctl(t, "cost", "--no-measure", "-o", "json", "--cost.file", "../../cost/testdata/paper.yml")
	var r struct {
		Models []struct {
			Name       string  `json:"name"`
			SavingsUSD float64 `json:"savings_usd"`
		} `json:"models"`
	}
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || len(r.Models) != 4 || r.Models[1].SavingsUSD < 15189.83 {
		t.Errorf("cost -o json: exit %d, err %v, %s", code, err, out)
	}
}

// TestUIForwardsActions serves the page as vcrctl ui does and follows the
// no-JS action path: the POST reaches the receiver with the token added.
func TestUIForwardsActions(t *testing.T) {
	f, srv := newFakeReceiver(t)
	t.Setenv("VCR_TOKEN", testToken)
	var errb bytes.Buffer
	a := &app{receiverURL: srv.URL, configFile: "/nonexistent", timeout: 5 * time.Second, stdout: io.Discard, stderr: &errb, now: func() time.Time { return fixedNow }}
	h, err := a.uiHandler("../../cost/testdata/paper.yml", false)
	if err != nil {
		t.Fatal(err)
	}
	page := httptest.NewServer(h)
	defer page.Close()

	resp, err := http.Get(page.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`data-service="db"`, `data-incident="20261125T094500Z-db"`, "$15,189.84 saved"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if !strings.Contains(errb.String(), "standby VMs not shown") {
		t.Errorf("missing config should be reported, stderr %q", errb.String())
	}
	// The browser sends no token; the proxy adds it. The page's own origin
	// is not the receiver's, and the receiver still accepts the request.
	req, _ := http.NewRequest("POST", page.URL+"/api/v1/services/db/failback", nil)
	req.Header.Set("Origin", page.URL)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("forwarded failback = %d, want 202", resp.StatusCode)
	}
	if len(f.actions) != 1 || f.actions[0] != "failback db" {
		t.Errorf("receiver saw %v", f.actions)
	}

	// A form on another site cannot post through the proxy.
	req, _ = http.NewRequest("POST", page.URL+"/api/v1/services/db/failback", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(f.actions) != 1 {
		t.Errorf("cross-site POST = %d, actions %v; want 403 and nothing forwarded", resp.StatusCode, f.actions)
	}

	ro, err := a.uiHandler("../../cost/testdata/paper.yml", true)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	ro.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/services/db/failback", nil))
	if rec.Code == http.StatusAccepted || len(f.actions) != 1 {
		t.Errorf("read-only page forwarded an action: %d", rec.Code)
	}
}

// TestAsksBeforeRunning: failover, drill, failback and retry show the
// phases the receiver's plan says will run and go ahead only on "y";
// --yes skips the question.
func TestAsksBeforeRunning(t *testing.T) {
	f, srv := newFakeReceiver(t)
	failed := f.incidents[2]
	failed.ID, failed.State, failed.Kind = "20261125T070000Z-api", api.StateFailed, api.KindFailover
	failed.Phases = []api.Phase{{Name: "detect", Outcome: api.OutcomeOK}, {Name: "fence", Outcome: api.OutcomeOK}, {Name: "prepare", Outcome: api.OutcomeFailed}}
	f.incidents = append(f.incidents, failed)
	undone := failed
	undone.ID = "20261125T060000Z-api"
	undone.Phases = []api.Phase{{Name: "detect", Outcome: api.OutcomeOK}, {Name: "fence", Outcome: api.OutcomeOK}, {Name: "prepare", Outcome: api.OutcomeOK},
		{Name: "verify", Outcome: api.OutcomeFailed}, {Name: "abort", Outcome: api.OutcomeOK}}
	f.incidents = append(f.incidents, undone)
	t.Setenv("VCR_TOKEN", testToken)
	base := []string{"--receiver.url", srv.URL}
	tests := []struct {
		answer string
		args   []string
		code   int
		ask    []string // lines the question shows
		action string   // what the receiver was asked to do; "" for nothing
	}{
		{"n\n", []string{"failover", "db"}, 1, []string{"Fail db over to its standby?", "  fence: destroy the primary db01 through libvirt on hv1; then stop in needs-attention", "  finalize: strategy plugin cold finalizes", "Proceed? [y/N]", "not confirmed"}, ""},
		{"", []string{"failover", "db", "--force"}, 1, []string{"switch even if the primary still answers (forced)", "not confirmed"}, ""},
		{"y\n", []string{"failover", "db"}, 0, []string{"Fail db over to its standby?"}, "manual-failover db"},
		{"yes\n", []string{"drill", "db"}, 0, []string{"Run a failover drill of db?", "  fence: skipped (drill: the primary is healthy and stays up)"}, "drill db"},
		{"Y\n", []string{"failback", "db"}, 0, []string{"Fail db back to its primary?", "  finalize: skipped (strategy plugin cold finalizes)"}, "failback db"},
		{"n\n", []string{"incident", "retry", "20261125T070000Z-api"}, 1, []string{"Resume incident 20261125T070000Z-api (failover of api)", "  prepare: strategy plugin cold brings api up", "  already done, not run again: fence"}, ""},
		{"n\n", []string{"incident", "retry", "20261125T060000Z-api"}, 1, []string{"Resume incident 20261125T060000Z-api (failover of api)", "  prepare: strategy plugin cold brings api up", "  verify: ", "  already done, not run again: fence", "the abort undid prepare: it runs again"}, ""},
		{"y\n", []string{"incident", "cancel", "20261125T095958Z-web"}, 0, []string{"Cancel incident 20261125T095958Z-web (failover of web, now preparing)?", "strategy plugin warm undoes what prepare did"}, "cancel 20261125T095958Z-web"},
		{"n\n", []string{"incident", "cancel", "20261125T095958Z-web"}, 1, []string{"Cancel incident 20261125T095958Z-web", "not confirmed"}, ""},
		{"", []string{"--yes", "drill", "mail"}, 0, nil, "drill mail"},
	}
	for _, tt := range tests {
		f.mu.Lock()
		f.actions = nil
		f.mu.Unlock()
		_, errOut, code := vcrctlAnswering(t, tt.answer, append(base, tt.args...)...)
		if code != tt.code {
			t.Errorf("vcrctl %v answering %q: exit %d, want %d; stderr %q", tt.args, tt.answer, code, tt.code, errOut)
		}
		for _, want := range tt.ask {
			if !strings.Contains(errOut, want) {
				t.Errorf("vcrctl %v: the question lacks %q:\n%s", tt.args, want, errOut)
			}
		}
		if tt.ask == nil && strings.Contains(errOut, "Proceed?") {
			t.Errorf("vcrctl %v asked despite --yes", tt.args)
		}
		if got := strings.Join(f.actions, "|"); got != tt.action {
			t.Errorf("vcrctl %v answering %q: receiver saw %q, want %q", tt.args, tt.answer, got, tt.action)
		}
	}
}

// TestBasicAuthFlags: vcrctl authenticates with a user and a password file
// as well as with the bearer token, and refuses both at once.
func TestBasicAuthFlags(t *testing.T) {
	_, srv := newFakeReceiver(t)
	t.Setenv("VCR_TOKEN", "")
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte(testPassword+"\n"), 0o600)
	wrong := filepath.Join(dir, "wrong")
	os.WriteFile(wrong, []byte("nope\n"), 0o600)
	base := []string{"--receiver.url", srv.URL, "--basic-auth.username", "operator"}
	if _, errOut, code := vcrctl(t, append(base, "--basic-auth.password-file", pw, "status")...); code != 0 {
		t.Fatalf("basic auth: exit %d: %s", code, errOut)
	}
	if _, errOut, code := vcrctl(t, append(base, "--basic-auth.password-file", wrong, "status")...); code != 1 || !strings.Contains(errOut, "401") {
		t.Errorf("wrong password: exit %d, %s", code, errOut)
	}
	if _, errOut, code := vcrctl(t, append(base, "status")...); code != 1 || !strings.Contains(errOut, "has no password") {
		t.Errorf("no password: exit %d, %s", code, errOut)
	}
	t.Setenv("VCR_PASSWORD", testPassword)
	if _, errOut, code := vcrctl(t, append(base, "status")...); code != 0 {
		t.Errorf("password from VCR_PASSWORD: exit %d, %s", code, errOut)
	}
	t.Setenv("VCR_TOKEN", testToken)
	if _, errOut, code := vcrctl(t, append(base, "status")...); code != 1 || !strings.Contains(errOut, "keep one") {
		t.Errorf("token and user: exit %d, %s", code, errOut)
	}
}

// capacity --check fails when a host or cloud would not fit, after
// printing the view.
func TestCapacityCheck(t *testing.T) {
	_, srv := newFakeReceiver(t)
	t.Setenv("VCR_TOKEN", testToken)
	out, errOut, code := vcrctl(t, "--receiver.url", srv.URL, "capacity", "--check")
	if code != 1 || !strings.Contains(errOut, "would not hold") || !strings.Contains(out, "cloud  dc1") {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
}

// TestIncidentsLimitReadsPages: with --limit, vcrctl reads the receiver's
// pages until it has enough, not the whole history a mass event left.
func TestIncidentsLimitReadsPages(t *testing.T) {
	f, srv := newFakeReceiver(t)
	t.Setenv("VCR_TOKEN", testToken)
	f.incidents = nil
	for i := range 250 {
		f.incidents = append(f.incidents, api.Incident{ID: fmt.Sprintf("i%03d", i), Service: fmt.Sprintf("s%03d", i), State: api.StateResolved})
	}
	list := func(args ...string) []api.Incident {
		t.Helper()
		f.lists = nil
		out, errOut, code := vcrctl(t, append([]string{"--receiver.url", srv.URL, "incidents", "-o", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var incs []api.Incident
		if err := json.Unmarshal([]byte(out), &incs); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return incs
	}
	if got := list("--limit", "2"); len(got) != 2 || got[0].ID != "i000" || got[1].ID != "i001" || len(f.lists) != 1 || f.lists[0] != "limit=100" {
		t.Errorf("--limit 2: %d incidents after requests %q, want i000 and i001 from one page of 100", len(got), f.lists)
	}
	if got := list("--service", "s180", "--limit", "1"); len(got) != 1 || got[0].ID != "i180" || len(f.lists) != 2 {
		t.Errorf("--service s180 --limit 1: %+v after requests %q, want i180 from the second page", got, f.lists)
	}
	if got := list("--service", "nope", "--limit", "5"); len(got) != 0 || len(f.lists) != 3 {
		t.Errorf("--service nope: %d incidents after requests %q, want none after the last of three pages", len(got), f.lists)
	}
	if got := list(); len(got) != 250 || len(f.lists) != 1 || f.lists[0] != "" {
		t.Errorf("no limit: %d incidents after requests %q, want all 250 from one unpaged list", len(got), f.lists)
	}
}
