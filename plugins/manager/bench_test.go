package manager_test

import (
	"context"
	"io"
	"log/slog"
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

// BenchmarkPluginStart measures a cold start: discovering the plugin,
// starting its process, the go-plugin handshake with AutoMTLS, and a first
// Info call. A restart after a crash or hang costs the same.
func BenchmarkPluginStart(b *testing.B) {
	dir := testPlugins(b)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	const minStarts = 20
	var samples []time.Duration
	start := func(timed bool) {
		m, err := manager.New(manager.Config{Dir: dir, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if _, err := m.Info(context.Background(), "testplug"); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(t0))
		if timed {
			b.StopTimer() // Close is not part of a start
		}
		m.Close()
		if timed {
			b.StartTimer()
		}
	}
	b.ResetTimer()
	for range b.N {
		start(true)
	}
	b.StopTimer()
	for len(samples) < minStarts {
		start(false)
	}
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds())/1000, "median-ms")
}
