package pipeline

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/receiver/config"
)

// A failback reverses the data before the switch and resumes it after; a
// step the daemon says is already past (409) counts as done, any other
// refusal fails the stage with the daemon's fix.
func TestFailbackDataSync(t *testing.T) {
	var calls []string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls = append(calls, r.URL.Path)
		w.WriteHeader(status)
		switch {
		case status == http.StatusConflict:
			_, _ = w.Write([]byte(`{"error":"wrong mode: reverse db: the service is forward"}`))
		case status != http.StatusOK:
			_, _ = w.Write([]byte(`{"error":"reverse db: diverged","cause":"diverged","fix":"reconcile by hand"}`))
		case strings.HasSuffix(r.URL.Path, "/reverse"):
			_, _ = w.Write([]byte(`{"service":"db","primary_gtid":"0-1-9"}`))
		default:
			_, _ = w.Write([]byte(`{"service":"db","gtid":"0-2-12"}`))
		}
	}))
	defer srv.Close()
	var notes []string
	a := Attempt{Service: &config.Service{Name: "web", Sync: &config.Sync{URL: srv.URL, Service: "db"}}, Note: func(s string) { notes = append(notes, s) }}
	ctx := context.Background()
	if err := reverseData(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := resumeData(ctx, a); err != nil {
		t.Fatal(err)
	}
	if strings.Join(calls, " ") != "/api/v1/services/db/reverse /api/v1/services/db/resume" {
		t.Errorf("calls = %v", calls)
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "from GTID 0-1-9") || !strings.Contains(notes[1], "GTID 0-2-12") {
		t.Errorf("notes = %q", notes)
	}
	status = http.StatusConflict
	if err := reverseData(ctx, a); err != nil {
		t.Errorf("a 409 fails the stage: %v", err)
	}
	status = http.StatusBadGateway
	if err := reverseData(ctx, a); err == nil || !strings.Contains(err.Error(), "reconcile by hand") {
		t.Errorf("a refused reverse: err = %v", err)
	}
	calls = nil
	if err := reverseData(ctx, Attempt{Service: &config.Service{Name: "web"}}); err != nil || len(calls) != 0 {
		t.Errorf("a service without sync called vcr-sync (%v, %v)", calls, err)
	}
}
