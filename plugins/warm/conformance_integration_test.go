package warm_test

import (
	"encoding/json"
	"testing"

	"github.com/vcrcovery/vcrcovery/plugins/internal/strategytest"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
	"github.com/vcrcovery/vcrcovery/plugins/warm"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// TestConformanceAgainstLXD runs the SDK's conformance suite, idempotency
// included, against a real LXD daemon. The standby container was made by
// hand (it carries no marks): warm uses it and never removes it.
func TestConformanceAgainstLXD(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs a real LXD daemon")
	}
	x := testenv.StartLXD(t, testenv.LXDOptions{Name: "standby", Address: "127.0.0.2"})
	x.LaunchService(t, "web", testenv.FreePort(t))
	sdktest.Conformance(t, func() sdk.Strategy { return warm.Strategy{} }, sdktest.Fixture{
		Settings: json.RawMessage(`{"remote":"standby","proxy_device":"web"}`),
		Shared:   strategytest.SharedJSON(t, map[string]sdk.LXDRemote{"standby": strategytest.Remote(x)}, ""),
		Request:  &sdk.PrepareRequest{IncidentID: "conformance-1", Service: "web", Reason: "VCRDomainShutoff"},
		// A warm standby runs before an incident.
		Reset: func(t testing.TB) { strategytest.Running(t, x, "web") },
		State: func(t testing.TB) string { return strategytest.Instances(t, x) },
		// A Prepare that died before its start went through.
		Crash: func(t testing.TB) { strategytest.Stopped(t, x, "web") },
	})
}
