package warm

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

func TestSyncSettings(t *testing.T) {
	s, err := ParseSettings(json.RawMessage(`{"remote":"s","sync":"http://127.0.0.1:9480","sync_service":"db"}`))
	if err != nil || s.Sync != "http://127.0.0.1:9480" || s.SyncServiceFor("x") != "db" {
		t.Fatalf("ParseSettings = %+v, %v", s, err)
	}
	if _, err := ParseSettings(json.RawMessage(`{"remote":"s","sync":"127.0.0.1:9480"}`)); err == nil || !strings.Contains(err.Error(), "sync:") {
		t.Errorf("a sync URL without scheme: err = %v", err)
	}
	if _, err := ParseSettings(json.RawMessage(`{"remote":"s","sync_service":"db"}`)); err == nil || !strings.Contains(err.Error(), "needs sync") {
		t.Errorf("sync_service without sync: err = %v", err)
	}
}

// The promotion's lag, GTID and rpo verdict become endpoint details, and a
// lag beyond the rpo still promotes.
func TestPromoteRecordsLag(t *testing.T) {
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.Method + " " + r.URL.Path
		_, _ = w.Write([]byte(`{"service":"db","gtid":"0-1-42","lag_seconds":45.5,"rpo_seconds":30,"beyond_rpo":true}`))
	}))
	defer srv.Close()
	details := map[string]string{"instance": "db"}
	var msgs []string
	err := promote(context.Background(), Settings{Sync: srv.URL}, "db", details, func(p sdk.Progress) { msgs = append(msgs, p.Message) })
	if err != nil {
		t.Fatal(err)
	}
	if path != "POST /api/v1/services/db/promote" {
		t.Errorf("called %s", path)
	}
	if details["sync_gtid"] != "0-1-42" || details["sync_lag_seconds"] != "45.500" || details["sync_beyond_rpo"] != "true" || details["instance"] != "db" {
		t.Errorf("details = %v", details)
	}
	if len(msgs) != 1 || !strings.Contains(msgs[0], "beyond the rpo of 30 s") {
		t.Errorf("progress = %q", msgs)
	}
}

// A daemon that refuses names its cause and fix in the prepare's error.
func TestPromoteFailureNamesTheFix(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte(`{"error":"promote db: dial tcp: refused","cause":"mysql_unreachable","fix":"start the standby's MariaDB"}`))
	}))
	defer srv.Close()
	err := promote(context.Background(), Settings{Sync: srv.URL}, "db", map[string]string{}, nil)
	if err == nil || !strings.Contains(err.Error(), "502") || !strings.Contains(err.Error(), "start the standby's MariaDB") {
		t.Errorf("err = %v", err)
	}
}
