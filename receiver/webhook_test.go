package receiver

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
)

func TestWebhookCodes(t *testing.T) {
	h := newHarness(t, testConfig)
	unmatched := map[string]string{"alertname": "VCRDomainShutoff", "domain": "nobody"}
	cases := []struct {
		name, body string
		want       int
		wantMsg    string
	}{
		{"accepted", payload("firing", unmatched), 200, `"accepted": 1`},
		{"malformed", `{"version": "4", "alerts": [`, 400, "malformed JSON"},
		{"not an object", `[1,2]`, 400, "malformed JSON"},
		{"trailing", payload("firing", unmatched) + "{}", 400, "trailing data"},
		{"wrong version", strings.Replace(payload("firing", unmatched), `"version":"4"`, `"version":"3"`, 1), 400, "unsupported webhook version"},
		{"no alerts", `{"version":"4","status":"firing","alerts":[]}`, 400, "no alerts"},
		{"bad status", strings.Replace(payload("firing", unmatched), `"status":"firing","labels"`, `"status":"maybe","labels"`, 1), 400, "alerts[0].status is"},
		{"no alertname", payload("firing", map[string]string{"domain": "x"}), 400, "no alertname"},
		{"too big", `{"version":"4","receiver":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, 413, "body larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := h.post(tc.body)
			if code != tc.want || !strings.Contains(body, tc.wantMsg) {
				t.Fatalf("got %d %s, want %d containing %q", code, body, tc.want, tc.wantMsg)
			}
		})
	}
	// The unmatched alert was journaled with a note, though no incident opened.
	alerts, _ := h.j.Alerts(context.Background(), 0)
	if len(alerts) != 1 || alerts[0].Note != "matches no configured service" {
		t.Fatalf("journaled alerts = %+v", alerts)
	}
	if n := len(h.incidents()); n != 0 {
		t.Fatalf("%d incidents opened by an unmatched alert", n)
	}

	// A journal that cannot write gives 503 so Alertmanager retries.
	h.j.fail.Store(true)
	code, body := h.post(payload("firing", unmatched))
	if code != 503 || !strings.Contains(body, "disk full") {
		t.Fatalf("journal failure: got %d %s, want 503", code, body)
	}
	h.j.fail.Store(false)
	// A write over a limit of the backend fails the same way on every
	// retry: 500 with the limit's name, so Alertmanager does not retry it
	// forever.
	h.j.tooLarge.Store(true)
	code, body = h.post(payload("firing", unmatched))
	if code != 500 || !strings.Contains(body, "--max-txn-ops") {
		t.Fatalf("write over the backend's limit: got %d %s, want 500 naming the limit", code, body)
	}
	h.j.tooLarge.Store(false)
	if got := testutil.ToFloat64(h.r.m.webhookRequests.WithLabelValues("400")); got != 7 {
		t.Errorf("webhook 400 count = %v, want 7", got)
	}
}

func TestWebhookAuth(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "tok")
	pw := filepath.Join(dir, "pw")
	os.WriteFile(tok, []byte("sesame\n"), 0o600)
	os.WriteFile(pw, []byte("hunter2"), 0o600)
	cfgPath := filepath.Join(dir, "c.yml")
	sec := filepath.Join(dir, "tsig")
	os.WriteFile(sec, []byte("c2VjcmV0"), 0o600)
	text := strings.Replace(testConfig, "/dev/null", sec, 1) + "web: {auth: {bearer_token_file: " + tok + ", basic_auth: {username: am, password_file: " + pw + "}}}\n"
	os.WriteFile(cfgPath, []byte(text), 0o600)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, testConfig)
	h.r.SetConfig(cfg)
	body := payload("firing", map[string]string{"alertname": "Other"})
	for _, tc := range []struct {
		name string
		hdr  []string
		want int
	}{
		{"none", nil, 401},
		{"wrong token", []string{"Authorization", "Bearer nope"}, 401},
		{"token", []string{"Authorization", "Bearer sesame"}, 200},
		{"basic", []string{"Authorization", "Basic YW06aHVudGVyMg=="}, 200}, // am:hunter2
		{"wrong basic", []string{"Authorization", "Basic YW06eA=="}, 401},
	} {
		if code, b := h.post(body, tc.hdr...); code != tc.want {
			t.Errorf("%s: got %d %s, want %d", tc.name, code, b, tc.want)
		}
	}

	// Cancelling a recovery takes the same credentials, and so do Go's
	// profiles: they show the receiver's memory.
	for _, tc := range []struct {
		method, path string
		want         int // with the token; 401 without
	}{
		{http.MethodPost, "/api/v1/incidents/x/cancel", 404},
		{http.MethodGet, "/debug/pprof/cmdline", 200},
	} {
		for _, token := range []string{"", "sesame"} {
			want := 401
			req, _ := http.NewRequest(tc.method, h.srv.URL+tc.path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
				want = tc.want
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("%s %s with token %q: %d, want %d", tc.method, tc.path, token, resp.StatusCode, want)
			}
		}
	}

	// The status page sits behind the same auth; with basic auth configured
	// the challenge offers Basic, so a browser prompts for it.
	page := h.r.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "page") }))
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if got := rec.Header().Values("WWW-Authenticate"); rec.Code != 401 || len(got) != 2 ||
		!strings.HasPrefix(got[0], "Basic ") || !strings.HasPrefix(got[1], "Bearer ") {
		t.Errorf("unauthenticated page: %d, challenges %q; want 401 offering Basic then Bearer", rec.Code, got)
	}
	rec = httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.SetBasicAuth("am", "hunter2")
	page.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.String() != "page" {
		t.Errorf("page with basic auth: %d %q", rec.Code, rec.Body.String())
	}
}

func TestMapping(t *testing.T) {
	cases := []struct {
		name   string
		labels map[string]string
		want   []string
	}{
		{"uuid", map[string]string{"alertname": "VCRDomainCrashed", "uuid": "6695EB01F6A4830479AA97F2502E193F"}, []string{"web"}},
		{"domain", map[string]string{"alertname": "VCRDomainShutoff", "domain": "db01"}, []string{"db"}},
		{"domain on another host", map[string]string{"alertname": "VCRDomainShutoff", "domain": "db01", "host": "hv9"}, nil},
		{"service label", map[string]string{"alertname": "VCRDomainShutoff", "service": "db"}, []string{"db"}},
		{"host heartbeat", map[string]string{"alertname": "VCRHostHeartbeatLost", "host": "hv1"}, []string{"web", "db"}},
		{"unknown", map[string]string{"alertname": "VCRDomainShutoff", "domain": "zzz"}, nil},
		// The standby is overloaded, not the service: a service still on its
		// primary has nothing to move, whatever label the alert carries.
		{"overload naming a service on its primary", map[string]string{"alertname": "VCRStandbyOverloaded", "role": "standby", "service": "web"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testConfig)
			h.strat.block = make(chan struct{}) // keep incidents open
			defer close(h.strat.block)
			msg, err := DecodeWebhook([]byte(payload("firing", tc.labels)))
			if err != nil {
				t.Fatal(err)
			}
			var got []*config.Service
			h.r.store.locked(func() { got = matchServices(h.r.store, h.cfg, msg.Alerts[0]) })
			var names []string
			for _, s := range got {
				names = append(names, s.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("matched %v, want %v", names, tc.want)
			}
		})
	}
}

func TestNonTriggeringAlertsAreRecordedOnly(t *testing.T) {
	h := newHarness(t, testConfig)
	code, body := h.post(payload("firing", map[string]string{"alertname": "VCRDomainCPUPinned", "domain": "web01"}))
	if code != 200 {
		t.Fatal(code, body)
	}
	code, _ = h.post(payload("resolved", shutoffWeb))
	if code != 200 || len(h.incidents()) != 0 {
		t.Fatalf("got %d and %d incidents, want 200 and none", code, len(h.incidents()))
	}
	alerts, _ := h.j.Alerts(context.Background(), 0)
	if len(alerts) != 2 || !strings.Contains(alerts[0].Note, "does not trigger") || !strings.Contains(alerts[1].Note, "no incident is open") {
		t.Fatalf("alerts = %+v", alerts)
	}
}

func TestScaleUpOnlyWhenOnStandby(t *testing.T) {
	h := newHarness(t, testConfig)
	overloaded := map[string]string{"alertname": "VCRStandbyOverloaded", "domain": "standby-vm", "role": "standby"}
	if code, _ := h.post(payload("firing", overloaded)); code != 200 || len(h.incidents()) != 0 {
		t.Fatalf("scale-up opened while the service is on its primary")
	}
	named := maps.Clone(overloaded)
	named["service"] = "web"
	if code, _ := h.post(payload("firing", named)); code != 200 || len(h.incidents()) != 0 {
		t.Fatalf("an overload alert naming web moved it off its primary")
	}
	code, body := h.post(payload("firing", shutoffWeb))
	var ar api.AlertsResponse
	json.Unmarshal([]byte(body), &ar)
	if code != 200 || len(ar.Incidents) != 1 {
		t.Fatal(code, body)
	}
	h.waitState(ar.Incidents[0], api.StateResolved)
	h.r.Wait()
	if loc := h.r.Services()[1]; loc.Name != "web" || loc.Location != api.LocationStandby || loc.CurrentAddress != "127.0.0.2" {
		t.Fatalf("after failover web = %+v", loc)
	}
	// Another shutoff alert of the old primary must not fail over again.
	h.post(payload("firing", shutoffWeb))
	if n := len(h.incidents()); n != 1 {
		t.Fatalf("%d incidents after a repeat alert, want 1", n)
	}
	h.strat.endpoint.Address, h.strat.endpoint.Port = "127.0.0.3", 8080
	code, body = h.post(payload("firing", overloaded))
	json.Unmarshal([]byte(body), &ar)
	if code != 200 || len(ar.Incidents) != 1 {
		t.Fatal(code, body)
	}
	inc := h.waitState(ar.Incidents[0], api.StateResolved)
	if inc.Kind != api.KindScaleUp || inc.Strategy != "scaleup" || inc.Phase(api.PhaseFence).Outcome != api.OutcomeSkipped {
		t.Fatalf("scale-up incident = %+v", inc)
	}
	h.r.Wait()
	if loc := h.r.Services()[1]; loc.Location != api.LocationBiggerVM || loc.CurrentAddress != "127.0.0.3" {
		t.Fatalf("after scale-up web = %+v", loc)
	}
}

func FuzzWebhookDecode(f *testing.F) {
	f.Add([]byte(payload("firing", shutoffWeb)))
	f.Add([]byte(payload("resolved", shutoffWeb, map[string]string{"alertname": "X"})))
	f.Add([]byte(`{"version":"4","alerts":null}`))
	f.Add([]byte(`{"version":"4","alerts":[{"labels":null}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := DecodeWebhook(data)
		if err != nil {
			if msg != nil {
				t.Fatal("message returned with an error")
			}
			return
		}
		if msg.Version != "4" || len(msg.Alerts) == 0 {
			t.Fatalf("accepted an invalid payload: %+v", msg)
		}
		// Mapping must not panic on whatever labels got through.
		s := &store{services: map[string]*serviceState{}}
		cfg, _ := config.Parse([]byte(testConfig))
		for _, a := range msg.Alerts {
			matchServices(s, cfg, a)
		}
	})
}

// TestCrossOriginProtection: a cross-site form POST that a browser sends
// with the operator's cached Basic credentials is refused before it can
// start anything; Alertmanager's webhook, which sends no Origin, passes.
func TestCrossOriginProtection(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("hunter2"), 0o600)
	sec := filepath.Join(dir, "tsig")
	os.WriteFile(sec, []byte("c2VjcmV0"), 0o600)
	cfgPath := filepath.Join(dir, "c.yml")
	os.WriteFile(cfgPath, []byte(strings.Replace(testConfig, "/dev/null", sec, 1)+"web: {auth: {basic_auth: {username: operator, password_file: "+pw+"}}}\n"), 0o600)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, testConfig)
	h.r.SetConfig(cfg)
	post := func(path string, hdr map[string]string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, h.srv.URL+path, strings.NewReader("x=1"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("operator", "hunter2") // what the browser has cached
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for name, hdr := range map[string]map[string]string{
		"a modern browser":    {"Sec-Fetch-Site": "cross-site", "Origin": "https://attacker.example"},
		"an older browser":    {"Origin": "https://attacker.example"},
		"a sibling subdomain": {"Sec-Fetch-Site": "same-site", "Origin": "https://other.example.test"},
	} {
		for _, path := range []string{"/api/v1/services/web/failover", "/api/v1/services/web/drill", "/api/v1/incidents/x/acknowledge", "/api/v1/alerts"} {
			if code := post(path, hdr); code != http.StatusForbidden {
				t.Errorf("%s: cross-site POST %s = %d, want 403", name, path, code)
			}
		}
	}
	if n := len(h.incidents()); n != 0 {
		t.Fatalf("cross-site requests opened %d incidents", n)
	}
	// Alertmanager sends no Origin header.
	if code, body := h.post(payload("firing", map[string]string{"alertname": "Other"}), "Authorization", "Basic b3BlcmF0b3I6aHVudGVyMg=="); code != 200 {
		t.Fatalf("webhook without Origin = %d %s, want 200", code, body)
	}
	// The status page's own form posts from the same origin.
	if code := post("/api/v1/services/web/drill", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": h.srv.URL}); code != http.StatusAccepted {
		t.Fatalf("same-origin POST = %d, want 202", code)
	}
}
