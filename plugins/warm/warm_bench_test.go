package warm

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategytest"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// BenchmarkWarmPrepare measures a warm recovery from the strategy's side:
// Prepare over gRPC on a stopped standby container, until its page answers.
func BenchmarkWarmPrepare(b *testing.B) {
	x := testenv.StartLXD(b, testenv.LXDOptions{Name: "standby", Address: "127.0.0.2"})
	port := testenv.FreePort(b)
	x.LaunchService(b, "web", port)
	ctx := context.Background()
	c, err := lxd.Connect(ctx, lxd.Config{Socket: x.Socket})
	if err != nil {
		b.Fatal(err)
	}
	shared := strategytest.SharedJSON(b, map[string]sdk.LXDRemote{"standby": strategytest.Remote(x)}, "")
	req := sdk.PrepareRequest{Service: "web", Settings: json.RawMessage(`{"remote":"standby","proxy_device":"web"}`), Shared: shared}
	s := sdktest.GRPC(b, Strategy{})
	// LXD's start finishes about a second after Prepare returns; let it, so
	// the daemon's shutdown at cleanup finds no busy instance.
	b.Cleanup(func() { _ = strategy.RetryBusy(ctx, func() error { return c.StopInstance(ctx, "web", 0) }) })

	var total, prep []time.Duration
	for range strategytest.Samples(b) {
		if err := strategy.RetryBusy(ctx, func() error { return c.StopInstance(ctx, "web", 0) }); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		ep, err := s.Prepare(ctx, req, nil)
		if err != nil {
			b.Fatal(err)
		}
		prep = append(prep, time.Since(start))
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = strategytest.PageReady(rctx, ep.Address, ep.Port, "web\n")
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		total = append(total, time.Since(start))
	}
	b.ReportMetric(strategytest.MS(strategytest.Median(total)), "ready-median-ms")
	b.ReportMetric(strategytest.MS(slices.Max(total)), "ready-max-ms")
	b.ReportMetric(strategytest.MS(strategytest.Median(prep)), "prepare-median-ms")
	b.Logf("warm prepare→page ready: %v (prepare alone %v)", total, prep)
}
