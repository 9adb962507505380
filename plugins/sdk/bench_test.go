package sdk_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
)

// BenchmarkPrepareInProcessGRPC is the shim and wire cost alone (no process
// boundary, no TLS), to compare with manager's BenchmarkPrepareRoundTrip.
func BenchmarkPrepareInProcessGRPC(b *testing.B) {
	s := sdktest.GRPC(b, &fake{})
	ctx := context.Background()
	samples := make([]time.Duration, 0, max(b.N, 2000))
	once := func() {
		start := time.Now()
		if _, err := s.Prepare(ctx, sdk.PrepareRequest{Service: "web"}, nil); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
	}
	b.ResetTimer()
	for range b.N {
		once()
	}
	b.StopTimer()
	for len(samples) < 2000 {
		once()
	}
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(samples[len(samples)*99/100].Microseconds())/1000, "p99-ms")
}
