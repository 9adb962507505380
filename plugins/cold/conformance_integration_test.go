package cold

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/backupstore"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategytest"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// TestConformanceAgainstLXD runs the SDK's conformance suite, idempotency
// included, against a real LXD daemon that holds no copy of the service,
// only its backup.
func TestConformanceAgainstLXD(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs a real LXD daemon")
	}
	x := testenv.StartLXD(t, testenv.LXDOptions{Name: "standby", Address: "127.0.0.2"})
	port := testenv.FreePort(t)
	x.LaunchService(t, "web", port)
	x.Lxc(t, "config", "device", "set", "web", "web", fmt.Sprintf("listen=tcp:127.0.0.9:%d", port))
	ctx := context.Background()
	dir := t.TempDir()
	shared := strategytest.SharedJSON(t, map[string]sdk.LXDRemote{"standby": strategytest.Remote(x)}, dir)
	settings := json.RawMessage(`{"remote":"standby","proxy_device":"web"}`)
	b, _, err := backupstore.CreateForService(ctx, "web", settings, shared)
	if err != nil {
		t.Fatal(err)
	}
	req := &sdk.PrepareRequest{IncidentID: "conformance-1", Service: "web", Reason: "VCRDomainShutoff"}
	sdktest.Conformance(t, func() sdk.Strategy { return Strategy{} }, sdktest.Fixture{
		Settings: settings,
		Shared:   shared,
		Request:  req,
		// A cold standby holds no copy of the service.
		Reset: func(t testing.TB) { strategytest.Removed(t, x) },
		State: func(t testing.TB) string { return strategytest.Instances(t, x) },
		// The plugin died right after LXD imported the backup, before it
		// could mark the copy: the worst moment, an unmarked instance.
		Crash: func(t testing.TB) {
			err := strategytest.Client(t, x).ImportBackupFile(ctx, b.Path, lxd.ImportOptions{Name: stagingName("web", req.IncidentID)})
			if err != nil {
				t.Fatal(err)
			}
		},
	})
}
