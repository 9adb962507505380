package strategytest

import (
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// EnvSamples reads a positive sample count from the environment variable
// key, or returns def.
func EnvSamples(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

// Samples is how many timed runs a benchmark makes: `make bench` runs each
// benchmark once (-benchtime 1x), and a median needs several, so
// VCR_BENCH_SAMPLES (default 5) runs per b.N.
func Samples(b *testing.B) int {
	return EnvSamples("VCR_BENCH_SAMPLES", 5) * b.N
}

// Median returns the median of ds without reordering it.
func Median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// MS converts d to milliseconds for b.ReportMetric.
func MS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
