package collector

import (
	"bufio"
	"context"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// familyCollector is a Collector that can also hand over its series as a
// builder (see builder), the fast path /metrics takes for the libvirt
// collector's tens of thousands of series.
type familyCollector interface {
	Collector
	build(ctx context.Context) (*builder, error)
}

// Classic is the part of the set that goes through the registry: every
// collector but the family collectors. Register it, not the Set, in the
// registry passed to Gatherer.
func (s *Set) Classic() prometheus.Collector { return classic{s} }

type classic struct{ s *Set }

func (c classic) Describe(ch chan<- *prometheus.Desc) { c.s.Describe(ch) }
func (c classic) Collect(ch chan<- prometheus.Metric) { c.s.collect(ch, false) }

// Gatherer is what /metrics serves in formats other than text: base's
// families (a registry holding Classic and the exporter's other
// collectors) and the family collectors' own, gathered in parallel under the
// scrape timeout, with their scrape duration and success merged into base's
// vcr_scrape_collector_* families. The same series as a registry holding
// the Set, at a fraction of the cost.
func (s *Set) Gatherer(base prometheus.Gatherer) prometheus.TransactionalGatherer {
	return gatherer{s: s, base: base}
}

type gatherer struct {
	s    *Set
	base prometheus.Gatherer
}

func (g gatherer) Gather() ([]*dto.MetricFamily, func(), error) {
	mfs, builders, err := g.s.gatherAll(g.base)
	for _, b := range builders {
		mfs = append(mfs, b.families()...)
	}
	return mfs, func() {}, err
}

// WriteText writes what Gatherer gathers in the text exposition format
// (0.0.4), the one Prometheus asks for: base's families through expfmt, the
// family collectors' straight from their builders.
func (s *Set) WriteText(w io.Writer, base prometheus.Gatherer) error {
	mfs, builders, gatherErr := s.gatherAll(base)
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(bw, mf); err != nil {
			return err
		}
	}
	for _, b := range builders {
		if err := b.writeText(bw); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return gatherErr
}

// gatherAll runs base.Gather and the family collectors in parallel, and
// returns base's families with the family collectors' scrape samples merged
// in, and their builders, sorted by collector name.
func (s *Set) gatherAll(base prometheus.Gatherer) ([]*dto.MetricFamily, []*builder, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	type result struct {
		name             string
		b                *builder
		seconds, success float64
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var results []result
	for name, c := range s.collectors {
		fc, ok := c.(familyCollector)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			b, err := fc.build(ctx)
			secs, ok := s.outcome(name, start, err)
			mu.Lock()
			results = append(results, result{name: name, b: b, seconds: secs, success: ok})
			mu.Unlock()
		}()
	}
	mfs, err := base.Gather()
	wg.Wait()
	sort.Slice(results, func(i, j int) bool { return results[i].name < results[j].name })
	builders := make([]*builder, 0, len(results))
	for _, r := range results {
		builders = append(builders, r.b)
		mfs = addScrapeSample(mfs, scrapeDurationName, scrapeDurationHelp, r.name, r.seconds)
		mfs = addScrapeSample(mfs, scrapeSuccessName, scrapeSuccessHelp, r.name, r.success)
	}
	return mfs, builders, err
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
