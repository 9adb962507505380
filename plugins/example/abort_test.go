package example_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/plugins/example"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

func TestAbort(t *testing.T) {
	out := filepath.Join(t.TempDir(), "aborted")
	raw, _ := json.Marshal(map[string]any{
		"command":       []string{"true"},
		"abort_command": []string{"sh", "-c", `echo "$VCR_SERVICE $VCR_INCIDENT_ID $VCR_ABORT_REASON" > ` + out},
	})
	err := example.Strategy{}.Abort(context.Background(), sdk.AbortRequest{
		IncidentID: "inc-7", Service: "web", Reason: "verify failed", Settings: raw,
	})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); strings.TrimSpace(string(b)) != "web inc-7 verify failed" {
		t.Errorf("abort command saw %q", b)
	}
	// Without abort_command there is nothing to undo.
	if err := (example.Strategy{}).Abort(context.Background(), sdk.AbortRequest{Settings: json.RawMessage(`{"command":["true"]}`)}); err != nil {
		t.Errorf("Abort without abort_command = %v", err)
	}
}
