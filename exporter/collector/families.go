package collector

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// familyDef is one metric family a collector builds itself.
type familyDef struct {
	name, help string
	counter    bool
	desc       *prometheus.Desc // for the prometheus.Collector path (tests, Registry)
	idx        int              // position in its collector's list, set by indexFamilies
}

// indexFamilies numbers a collector's families for its builders.
func indexFamilies(defs []*familyDef) []*familyDef {
	for i, d := range defs {
		d.idx = i
	}
	return defs
}

// newFamily defines a family whose series carry exactly labels.
func newFamily(name, help string, counter bool, labels ...string) *familyDef {
	fq := prometheus.BuildFQName(namespace, "", name)
	return &familyDef{name: fq, help: help, counter: counter, desc: prometheus.NewDesc(fq, help, labels, nil)}
}

// slabSize is how many metrics one allocation holds: a 1,000-domain scrape
// builds ~80,000 of them.
const slabSize = 4096

// builder collects the series of one scrape straight into metric families,
// without a prometheus.Metric, a channel send or the registry's per-series
// hashing, checking and sorting, which cost more than the whole rest of a
// 1,000-domain scrape. Series come in domain order, so each family's
// metrics are already grouped; values and metrics are carved out of slabs,
// so a scrape makes a few dozen allocations where it made one per value.
// Label pairs must be sorted by name; the collector builds them that way.
type builder struct {
	defs    []*familyDef
	metrics [][]*dto.Metric // by family index

	slabM []dto.Metric
	slabV []float64
	slabG []dto.Gauge
	slabC []dto.Counter
}

func newBuilder(defs []*familyDef) *builder {
	return &builder{defs: defs, metrics: make([][]*dto.Metric, len(defs))}
}

// add appends one series to family f.
func (b *builder) add(f *familyDef, labels []*dto.LabelPair, v float64) {
	if len(b.slabM) == 0 {
		b.slabM = make([]dto.Metric, slabSize)
		b.slabV = make([]float64, slabSize)
	}
	m := &b.slabM[0]
	b.slabM = b.slabM[1:]
	b.slabV[0] = v
	vp := &b.slabV[0]
	b.slabV = b.slabV[1:]
	m.Label = labels
	if f.counter {
		if len(b.slabC) == 0 {
			b.slabC = make([]dto.Counter, slabSize)
		}
		m.Counter = &b.slabC[0]
		b.slabC = b.slabC[1:]
		m.Counter.Value = vp
	} else {
		if len(b.slabG) == 0 {
			b.slabG = make([]dto.Gauge, slabSize)
		}
		m.Gauge = &b.slabG[0]
		b.slabG = b.slabG[1:]
		m.Gauge.Value = vp
	}
	b.metrics[f.idx] = append(b.metrics[f.idx], m)
}

// families returns the non-empty families, sorted by name as the registry
// would sort them.
func (b *builder) families() []*dto.MetricFamily {
	out := make([]*dto.MetricFamily, 0, len(b.defs))
	for i, d := range b.defs {
		if len(b.metrics[i]) == 0 {
			continue
		}
		typ := dto.MetricType_GAUGE
		if d.counter {
			typ = dto.MetricType_COUNTER
		}
		name, help := d.name, d.help
		out = append(out, &dto.MetricFamily{Name: &name, Help: &help, Type: &typ, Metric: b.metrics[i]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

// send hands every series to ch, for the prometheus.Collector path.
func (b *builder) send(ch chan<- prometheus.Metric) {
	for i, d := range b.defs {
		for _, m := range b.metrics[i] {
			ch <- builtMetric{desc: d.desc, m: m}
		}
	}
}

// builtMetric is a series of a builder seen as a prometheus.Metric.
type builtMetric struct {
	desc *prometheus.Desc
	m    *dto.Metric
}

func (s builtMetric) Desc() *prometheus.Desc { return s.desc }

func (s builtMetric) Write(out *dto.Metric) error {
	out.Label, out.Gauge, out.Counter = s.m.Label, s.m.Gauge, s.m.Counter
	return nil
}
