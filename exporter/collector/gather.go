package collector

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// familyCollector is a Collector that can also build its metric families
// itself (see builder), the fast path /metrics takes for the libvirt
// collector's tens of thousands of series.
type familyCollector interface {
	Collector
	Families(ctx context.Context) ([]*dto.MetricFamily, error)
}

// Classic is the part of the set that goes through the registry: every
// collector but the family collectors. Register it, not the Set, in the
// registry passed to Gatherer.
func (s *Set) Classic() prometheus.Collector { return classic{s} }

type classic struct{ s *Set }

func (c classic) Describe(ch chan<- *prometheus.Desc) { c.s.Describe(ch) }
func (c classic) Collect(ch chan<- prometheus.Metric) { c.s.collect(ch, false) }

// Gatherer is what /metrics serves: base's families (a registry holding
// Classic and the exporter's other collectors) and the family collectors'
// own, gathered in parallel under the scrape timeout, with their scrape
// duration and success merged into base's vcr_scrape_collector_* families.
// The same series as a registry holding the Set, at a fraction of the cost.
func (s *Set) Gatherer(base prometheus.Gatherer) prometheus.TransactionalGatherer {
	return gatherer{s: s, base: base}
}

type gatherer struct {
	s    *Set
	base prometheus.Gatherer
}

type familyResult struct {
	name             string
	mfs              []*dto.MetricFamily
	seconds, success float64
}

func (g gatherer) Gather() ([]*dto.MetricFamily, func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), g.s.timeout)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var results []familyResult
	for name, c := range g.s.collectors {
		fc, ok := c.(familyCollector)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			mfs, err := fc.Families(ctx)
			secs, ok := g.s.outcome(name, start, err)
			mu.Lock()
			results = append(results, familyResult{name: name, mfs: mfs, seconds: secs, success: ok})
			mu.Unlock()
		}()
	}
	mfs, err := g.base.Gather()
	wg.Wait()
	sort.Slice(results, func(i, j int) bool { return results[i].name < results[j].name })
	for _, r := range results {
		mfs = append(mfs, r.mfs...)
		mfs = addScrapeSample(mfs, scrapeDurationName, scrapeDurationHelp, r.name, r.seconds)
		mfs = addScrapeSample(mfs, scrapeSuccessName, scrapeSuccessHelp, r.name, r.success)
	}
	return mfs, func() {}, err
}

// addScrapeSample adds fq{collector=name} v to its family in mfs,
// creating the family if base had none, and keeps the family sorted.
func addScrapeSample(mfs []*dto.MetricFamily, fq, help, name string, v float64) []*dto.MetricFamily {
	m := &dto.Metric{Label: []*dto.LabelPair{labelPair("collector", name)}, Gauge: &dto.Gauge{Value: &v}}
	for _, mf := range mfs {
		if mf.GetName() == fq {
			mf.Metric = append(mf.Metric, m)
			sort.Slice(mf.Metric, func(i, j int) bool {
				return mf.Metric[i].GetLabel()[0].GetValue() < mf.Metric[j].GetLabel()[0].GetValue()
			})
			return mfs
		}
	}
	typ := dto.MetricType_GAUGE
	return append(mfs, &dto.MetricFamily{Name: &fq, Help: &help, Type: &typ, Metric: []*dto.Metric{m}})
}
