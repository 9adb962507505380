package datasync

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// The API's status codes and the mode machine, on a files-only service whose
// sides are never contacted: promote and its refusals need no side.
func TestAPIModesAndErrors(t *testing.T) {
	dir, _ := validConfig(t)
	c, err := LoadConfig(writeFile(t, dir, "sync.yml", `state_dir: `+dir+`/state
ssh: {key_file: `+filepath.Join(dir, "key")+`}
services:
  - name: web
    rpo: 30s
    primary: {ssh: "127.0.0.1:1"}
    standby: {ssh: "127.0.0.1:1"}
    sync: {paths: [/var/www/html]}
`))
	if err != nil {
		t.Fatal(err)
	}
	d := New(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	call := func(method, path string, want int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %s %s; want %d", method, path, resp.Status, b, want)
		}
		return body
	}
	call("GET", "/-/ready", http.StatusServiceUnavailable) // Run has not started
	call("POST", "/api/v1/services/nope/promote", http.StatusNotFound)
	if b := call("POST", "/api/v1/services/web/reverse", http.StatusConflict); !strings.Contains(b["error"].(string), "forward") {
		t.Errorf("reverse in forward mode: %v", b)
	}
	call("POST", "/api/v1/services/web/promote", http.StatusOK)
	if b := call("GET", "/api/v1/services/web", http.StatusOK); b["mode"] != "promoted" {
		t.Errorf("mode after promote: %v", b["mode"])
	}
	// Promoted: nothing is copied, so a files step does nothing and fails nothing.
	call("POST", "/api/v1/services/web/sync/files", http.StatusOK)
	call("POST", "/api/v1/services/web/resume", http.StatusConflict)
	call("POST", "/api/v1/services/web/sync/everything", http.StatusNotFound)

	// The mode survives a restart.
	d2 := New(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if st := d2.Status(); len(st) != 1 || st[0].Mode != ModePromoted {
		t.Errorf("after a restart: %+v", st)
	}
}
