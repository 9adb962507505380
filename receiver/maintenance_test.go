package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// TestMaintenanceDeclinesRecoveries: while a window covers a service, its
// failure alerts are journaled and declined, not recovered; the window
// survives a restart, and once stopped (or over) alerts recover again.
func TestMaintenanceDeclinesRecoveries(t *testing.T) {
	h := newHarness(t, testConfig)
	c := api.New(h.srv.URL, "")
	ctx := context.Background()
	w, err := c.StartMaintenance(ctx, api.MaintenanceRequest{Service: "web", Duration: "2h", Comment: "kernel update", CreatedBy: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if !w.Active || strings.Join(w.Services, ",") != "web" || w.EndsAt.Sub(w.StartsAt) != 2*time.Hour {
		t.Fatalf("window = %+v", w)
	}

	// A planned shutdown: the alert is journaled and declined.
	if code, body := h.post(payload("firing", shutoffWeb)); code != 200 || len(h.incidents()) != 0 {
		t.Fatalf("shutoff inside the window: %d %s, %d incidents; want none", code, body, len(h.incidents()))
	}
	alerts, _ := h.j.Alerts(ctx, 0)
	if len(alerts) != 1 || !strings.HasPrefix(alerts[0].Note, "declined: maintenance window "+w.ID+" (service web: kernel update)") {
		t.Fatalf("alert record = %+v", alerts)
	}
	events, _ := h.j.Events(ctx, 0)
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, ",") != "maintenance-start,maintenance-declined" {
		t.Fatalf("events = %v", kinds)
	}
	// A service the window does not cover still recovers.
	db := openIncident(t, h, map[string]string{"alertname": "VCRDomainShutoff", "domain": "db01"})
	h.waitState(db, api.StateResolved)
	h.r.Wait()

	// A restart keeps the window and what it declined.
	h.stop()
	h.start()
	c = api.New(h.srv.URL, "")
	ws, err := c.Maintenance(ctx)
	if err != nil || len(ws) != 1 || !ws[0].Active || ws[0].DeclinedTotal != 1 || ws[0].Declined[0].Alertname != "VCRDomainShutoff" {
		t.Fatalf("windows after a restart = %+v, %v", ws, err)
	}
	if code, _ := h.post(payload("firing", shutoffWeb)); code != 200 || len(h.incidents()) != 1 {
		t.Fatalf("shutoff after the restart opened an incident")
	}

	// Stopped: the next alert recovers the service.
	if _, err := c.StopMaintenance(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	var se *api.StatusError
	if _, err := c.StopMaintenance(ctx, w.ID); !errors.As(err, &se) || se.Code != 409 {
		t.Errorf("stopping a stopped window: %v, want 409", err)
	}
	id := openIncident(t, h, shutoffWeb)
	h.waitState(id, api.StateResolved)
	if ws, _ := c.Maintenance(ctx); len(ws) != 1 || ws[0].Active || ws[0].EndedAt == nil || ws[0].DeclinedTotal != 2 {
		t.Fatalf("stopped window = %+v", ws)
	}
}

// TestMaintenanceEndsByItself: a host window covers every service on the
// host, declines their alerts, and holds no longer than its duration.
func TestMaintenanceEndsByItself(t *testing.T) {
	h := newHarness(t, testConfig)
	w, err := h.r.StartMaintenance(context.Background(), api.MaintenanceRequest{Host: "hv1", Duration: "300ms", Comment: "firmware"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(w.Services, ",") != "web,db" {
		t.Fatalf("a window for host hv1 covers %v", w.Services)
	}
	heartbeat := map[string]string{"alertname": "VCRHostHeartbeatLost", "host": "hv1"}
	if code, _ := h.post(payload("firing", heartbeat)); code != 200 || len(h.incidents()) != 0 {
		t.Fatal("a host window let its host's services fail over")
	}
	if ws := h.r.Maintenance(); ws[0].DeclinedTotal != 2 {
		t.Errorf("declined %d alerts, want 2 (one per service)", ws[0].DeclinedTotal)
	}
	time.Sleep(time.Until(w.EndsAt) + 50*time.Millisecond)
	id := openIncident(t, h, shutoffWeb)
	h.waitState(id, api.StateResolved)
}

func TestMaintenanceRequests(t *testing.T) {
	h := newHarness(t, testConfig)
	for _, tc := range []struct {
		req  api.MaintenanceRequest
		code int
		msg  string
	}{
		{api.MaintenanceRequest{Service: "web", Host: "hv1", Duration: "1h", Comment: "x"}, 400, "exactly one of service, host and cloud"},
		{api.MaintenanceRequest{Service: "web", Duration: "soon", Comment: "x"}, 400, "write it like 2h"},
		{api.MaintenanceRequest{Service: "web", Duration: "200h", Comment: "x"}, 400, "at most 168h0m0s"},
		{api.MaintenanceRequest{Service: "web", Duration: "1h"}, 400, "comment is empty"},
		{api.MaintenanceRequest{Service: "nope", Duration: "1h", Comment: "x"}, 404, "covers no configured service"},
		{api.MaintenanceRequest{Cloud: "mars", Duration: "1h", Comment: "x"}, 404, "cloud mars covers no configured service"},
	} {
		_, err := h.r.StartMaintenance(context.Background(), tc.req)
		if statusOf(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: %v (%d), want %d with %q", tc.req, err, statusOf(err), tc.code, tc.msg)
		}
	}
}

// TestSilenceMatchers: the silences a window asks for match the alerts the
// receiver maps to the service, and nothing broader.
func TestSilenceMatchers(t *testing.T) {
	h := newHarness(t, testConfig)
	w, err := h.r.StartMaintenance(context.Background(), api.MaintenanceRequest{Service: "web", Duration: "1h", Comment: "x"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(w.Matchers)
	want := `[[{"name":"service","value":"web","isRegex":false,"isEqual":true}],` +
		`[{"name":"uuid","value":"(?i)6695eb01-?f6a4-?8304-?79aa-?97f2502e193f","isRegex":true,"isEqual":true}],` +
		`[{"name":"domain","value":"web01","isRegex":false,"isEqual":true},{"name":"host","value":"hv1|","isRegex":true,"isEqual":true}]]`
	if string(got) != want {
		t.Errorf("matchers\n%s\nwant\n%s", got, want)
	}
	w, _ = h.r.StartMaintenance(context.Background(), api.MaintenanceRequest{Host: "hv1", Duration: "1h", Comment: "x"})
	if got, _ := json.Marshal(w.Matchers); string(got) != `[[{"name":"host","value":"hv1","isRegex":false,"isEqual":true}]]` {
		t.Errorf("host window matchers %s", got)
	}
}
