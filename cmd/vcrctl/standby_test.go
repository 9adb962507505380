package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/plugins/ownership"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// TestStandbyAdopt marks a hand-made container on a real LXD daemon as the
// service's, through vcrctl.
func TestStandbyAdopt(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real LXD daemon; skipped with -short")
	}
	x := testenv.StartLXD(t, testenv.LXDOptions{Name: "standby", Address: "127.0.0.2"})
	x.LaunchService(t, "web", testenv.FreePort(t))
	file := writeConfig(t, t.TempDir(), fmt.Sprintf("{socket: %s, address: 127.0.0.2}", x.Socket))

	out, errOut, code := vcrctl(t, "--config.file", file, "standby", "adopt", "web")
	if code != 0 || !strings.HasPrefix(out, "Marked instance web on remote standby as web's") || !strings.Contains(out, "was unmarked") {
		t.Fatalf("adopt: exit %d\n%s%s", code, out, errOut)
	}
	if got := strings.TrimSpace(x.Lxc(t, "config", "get", "web", ownership.KeyService)); got != "web" {
		t.Errorf("%s = %q after adopt", ownership.KeyService, got)
	}
	out, errOut, code = vcrctl(t, "--config.file", file, "-o", "json", "standby", "adopt", "web")
	var res struct {
		Changed bool              `json:"changed"`
		After   map[string]string `json:"after"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Changed || res.After["service"] != "web" {
		t.Fatalf("second adopt: exit %d\n%s%s", code, out, errOut)
	}
	// api's settings name the standby remote too (as source), but web's
	// container is web's now.
	_, errOut, code = vcrctl(t, "--config.file", file, "standby", "adopt", "api", "--instance", "web")
	if code != 1 || !strings.Contains(errOut, `belongs to service "web"`) {
		t.Errorf("adopt of web's container for api: exit %d, stderr %q", code, errOut)
	}
	for _, tt := range []struct {
		args string
		code int
		want string
	}{
		{"standby adopt", 2, "give the service name"},
		{"standby adopt nope", 1, `no service "nope"`},
		{"standby adopt web --instance ghost", 1, `no instance "ghost"`},
	} {
		_, errOut, code := vcrctl(t, append([]string{"--config.file", file}, strings.Fields(tt.args)...)...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%s: exit %d, stderr %q, want %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
}
