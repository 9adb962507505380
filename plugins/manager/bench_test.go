package manager_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/manager"
)

// minSamples keeps the percentiles meaningful under `make bench`, which runs
// every benchmark with -benchtime 1x.
const minSamples = 2000

// BenchmarkPrepareRoundTrip measures the receiver's dispatch overhead: one
// Prepare through the manager to a plugin process that does nothing, over
// go-plugin gRPC with AutoMTLS. Goal: p99 <= 5 ms.
func BenchmarkPrepareRoundTrip(b *testing.B) {
	m := newManager(b, manager.Config{CallTimeout: 10 * time.Second})
	ctx := context.Background()
	req := mode("noop")
	if _, err := m.Prepare(ctx, "testplug", req, nil); err != nil { // start the process
		b.Fatal(err)
	}
	samples := make([]time.Duration, 0, max(b.N, minSamples))
	once := func() {
		start := time.Now()
		if _, err := m.Prepare(ctx, "testplug", req, nil); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
	}
	b.ResetTimer()
	for range b.N {
		once()
	}
	b.StopTimer()
	for len(samples) < minSamples {
		once()
	}
	slices.Sort(samples)
	pct := func(p float64) float64 {
		return float64(samples[int(p*float64(len(samples)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(samples)), "samples")
}
