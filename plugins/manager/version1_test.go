package manager_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/plugins/manager"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// buildVersion1Plugin builds vcr-strategy-example as it was before
// protocol 2 (testenv.StrategyV1Commit) and returns the directory holding
// the binary.
func buildVersion1Plugin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a plugin from the repository's history")
	}
	if err := testenv.HasCommit(t, testenv.StrategyV1Commit); err != nil {
		t.Skipf("commit %s is not in this checkout (%v): a source tree without its git history cannot build the old plugin", testenv.StrategyV1Commit[:12], err)
	}
	return testenv.Version1ExamplePlugin(t)
}

// A plugin binary built before protocol 2 still recovers a service through
// today's host: Prepare and Finalize work, and Abort is reported as
// unsupported instead of failing the host.
func TestVersion1PluginStillRecovers(t *testing.T) {
	m := newManager(t, manager.Config{Dir: buildVersion1Plugin(t)})
	ctx := context.Background()
	settings, _ := json.Marshal(map[string]any{"command": []string{"sh", "-c", "echo starting $VCR_SERVICE; echo 127.0.0.2 8080"}, "timeout": "10s"})
	err := m.ValidateConfig(ctx, "example", sdk.ValidateRequest{Service: "web", Settings: settings, Shared: json.RawMessage(`{"backup_dir":"/b"}`)})
	if err != nil {
		t.Fatalf("ValidateConfig: %v", err)
	}
	var progress []string
	ep, err := m.Prepare(ctx, "example", sdk.PrepareRequest{IncidentID: "inc-1", Service: "web", Settings: settings},
		func(p sdk.Progress) { progress = append(progress, p.Message) })
	if err != nil || ep.Address != "127.0.0.2" || ep.Port != 8080 {
		t.Fatalf("Prepare through the version-1 plugin = %+v, %v", ep, err)
	}
	if strings.Join(progress, "|") != "starting web|127.0.0.2 8080" {
		t.Errorf("progress = %q", progress)
	}
	if err := m.Finalize(ctx, "example", sdk.FinalizeRequest{IncidentID: "inc-1", Service: "web", Settings: settings, Endpoint: ep}); err != nil {
		t.Fatalf("Finalize through the version-1 plugin: %v", err)
	}
	err = m.Abort(ctx, "example", sdk.AbortRequest{IncidentID: "inc-1", Service: "web", Settings: settings, Endpoint: ep})
	if !errors.Is(err, sdk.ErrUnsupported) || !strings.Contains(err.Error(), "not supported by this plugin (protocol v1)") {
		t.Fatalf("Abort through the version-1 plugin = %v, want it reported as not supported (protocol v1)", err)
	}
	if errors.Is(err, manager.ErrPluginExited) || errors.Is(err, manager.ErrPluginTimeout) {
		t.Errorf("an unsupported Abort was classified as a plugin failure: %v", err)
	}
	// The plugin is still there for the next incident.
	if _, err := m.Prepare(ctx, "example", sdk.PrepareRequest{IncidentID: "inc-2", Service: "web", Settings: settings}, nil); err != nil {
		t.Errorf("Prepare after the unsupported Abort: %v", err)
	}
}
