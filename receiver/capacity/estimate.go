package capacity

import (
	"sort"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// Documented per-service prepare times, used until incidents give measured
// ones (docs/benchmarks.md, "Strategies"): a warm container is already
// there and starts or is found running in about 0.1 s; a cold one is
// restored from a backup, which took 0.3 s for the tiny test image and takes
// longer for a real root filesystem, hence 2 s; anything else, 5 s.
const (
	WarmSeconds    = 0.1
	ColdSeconds    = 2.0
	DefaultSeconds = 5.0
)

// measuredSamples is how many recent recoveries a strategy's measured
// figure is the median of.
const measuredSamples = 20

// SecondsPerService returns, per strategy, how long one service's prepare
// took: the median prepare phase of the strategy's latest completed
// failovers and drills in incidents (newest first). A strategy without
// any has none; the documented figure stands in for it.
func SecondsPerService(incidents []api.Incident) map[string]float64 {
	samples := map[string][]float64{}
	for i := range incidents {
		inc := &incidents[i]
		if inc.Kind != api.KindFailover && inc.Kind != api.KindDrill && inc.Kind != "" {
			continue
		}
		ph := inc.Phase(api.PhasePrepare)
		if ph == nil || ph.Outcome != api.OutcomeOK || ph.DurationSeconds <= 0 || len(samples[inc.Strategy]) >= measuredSamples {
			continue
		}
		samples[inc.Strategy] = append(samples[inc.Strategy], ph.DurationSeconds)
	}
	out := map[string]float64{}
	for s, xs := range samples {
		sort.Float64s(xs)
		out[s] = xs[len(xs)/2]
	}
	return out
}

// secondsFor is the figure for strategy: measured, else documented.
func secondsFor(per map[string]float64, strategy string) float64 {
	if s, ok := per[strategy]; ok {
		return s
	}
	switch strategy {
	case "warm":
		return WarmSeconds
	case "cold":
		return ColdSeconds
	}
	return DefaultSeconds
}
