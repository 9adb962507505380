package collector

import (
	"bufio"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// familyDef is one metric family a collector builds itself.
type familyDef struct {
	name, help string
	counter    bool
	desc       *prometheus.Desc // for the prometheus.Collector path (tests, Registry)
	idx        int              // position in its collector's list, set by indexFamilies
	header     []byte           // "# HELP ...\n# TYPE ...\n", as expfmt writes it
}

// newFamily defines a family whose series carry exactly labels.
func newFamily(name, help string, counter bool, labels ...string) *familyDef {
	fq := prometheus.BuildFQName(namespace, "", name)
	typ := "gauge"
	if counter {
		typ = "counter"
	}
	escHelp := strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(help)
	return &familyDef{name: fq, help: help, counter: counter, desc: prometheus.NewDesc(fq, help, labels, nil),
		header: []byte("# HELP " + fq + " " + escHelp + "\n# TYPE " + fq + " " + typ + "\n")}
}

// indexFamilies numbers a collector's families for its builders.
func indexFamilies(defs []*familyDef) []*familyDef {
	for i, d := range defs {
		d.idx = i
	}
	return defs
}

// labelSet is the label pairs one domain (or one of its devices) shares
// between its series, sorted by name, and their text form. It never changes
// once built.
type labelSet struct {
	pairs []*dto.LabelPair
	text  []byte // {name="value",...} in the text exposition format
}

var labelValueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func newLabels(pairs ...*dto.LabelPair) *labelSet {
	n := 2
	for _, p := range pairs {
		n += len(p.GetName()) + len(p.GetValue()) + 4
	}
	t := make([]byte, 0, n)
	t = append(t, '{')
	for i, p := range pairs {
		if i > 0 {
			t = append(t, ',')
		}
		t = append(t, p.GetName()...)
		t = append(t, '=', '"')
		t = append(t, labelValueEscaper.Replace(p.GetValue())...)
		t = append(t, '"')
	}
	return &labelSet{pairs: pairs, text: append(t, '}')}
}

type sample struct {
	labels *labelSet
	value  float64
}

// builder collects the series of one scrape by family, without a
// prometheus.Metric, a channel send or the registry's per-series hashing,
// checking and sorting, which cost more than the whole rest of a
// 1,000-domain scrape. Series come in domain order, so each family's
// series are already grouped, and writeText writes them out directly.
type builder struct {
	defs    []*familyDef
	samples [][]sample // by family index
}

func newBuilder(defs []*familyDef) *builder {
	return &builder{defs: defs, samples: make([][]sample, len(defs))}
}

// add appends one series to family f.
func (b *builder) add(f *familyDef, labels *labelSet, v float64) {
	b.samples[f.idx] = append(b.samples[f.idx], sample{labels, v})
}

// order is the index of each non-empty family, sorted by name as the
// registry sorts them.
func (b *builder) order() []int {
	var idx []int
	for i := range b.defs {
		if len(b.samples[i]) > 0 {
			idx = append(idx, i)
		}
	}
	sort.Slice(idx, func(i, j int) bool { return b.defs[idx[i]].name < b.defs[idx[j]].name })
	return idx
}

// writeText writes the families in the text exposition format (0.0.4),
// byte for byte what expfmt writes for families().
func (b *builder) writeText(w *bufio.Writer) error {
	buf := make([]byte, 0, 64<<10)
	for _, i := range b.order() {
		d := b.defs[i]
		buf = append(buf, d.header...)
		for _, s := range b.samples[i] {
			buf = append(buf, d.name...)
			buf = append(buf, s.labels.text...)
			buf = append(buf, ' ')
			buf = appendFloat(buf, s.value)
			buf = append(buf, '\n')
			if len(buf) > 60<<10 {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
	}
	_, err := w.Write(buf)
	return err
}

// appendFloat formats v as expfmt does.
func appendFloat(buf []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(buf, "+Inf"...)
	case math.IsInf(v, -1):
		return append(buf, "-Inf"...)
	case math.IsNaN(v):
		return append(buf, "NaN"...)
	}
	return strconv.AppendFloat(buf, v, 'g', -1, 64)
}

// slabSize is how many metrics one allocation holds when families() turns
// samples into dto metrics.
const slabSize = 4096

// families returns the non-empty families as dto metric families, sorted by
// name, for the formats writeText does not cover (protobuf).
func (b *builder) families() []*dto.MetricFamily {
	var slabM []dto.Metric
	var slabV []float64
	var slabG []dto.Gauge
	var slabC []dto.Counter
	var out []*dto.MetricFamily
	for _, i := range b.order() {
		d := b.defs[i]
		typ := dto.MetricType_GAUGE
		if d.counter {
			typ = dto.MetricType_COUNTER
		}
		name, help := d.name, d.help
		mf := &dto.MetricFamily{Name: &name, Help: &help, Type: &typ, Metric: make([]*dto.Metric, 0, len(b.samples[i]))}
		for _, s := range b.samples[i] {
			if len(slabM) == 0 {
				slabM, slabV = make([]dto.Metric, slabSize), make([]float64, slabSize)
				slabG, slabC = make([]dto.Gauge, slabSize), make([]dto.Counter, slabSize)
			}
			m, v := &slabM[0], &slabV[0]
			slabM, slabV = slabM[1:], slabV[1:]
			*v = s.value
			m.Label = s.labels.pairs
			if d.counter {
				m.Counter = &slabC[0]
				m.Counter.Value = v
				slabC = slabC[1:]
			} else {
				m.Gauge = &slabG[0]
				m.Gauge.Value = v
				slabG = slabG[1:]
			}
			mf.Metric = append(mf.Metric, m)
		}
		out = append(out, mf)
	}
	return out
}

// send hands every series to ch, for the prometheus.Collector path.
func (b *builder) send(ch chan<- prometheus.Metric) {
	for i, d := range b.defs {
		for _, s := range b.samples[i] {
			v := s.value
			m := &dto.Metric{Label: s.labels.pairs}
			if d.counter {
				m.Counter = &dto.Counter{Value: &v}
			} else {
				m.Gauge = &dto.Gauge{Value: &v}
			}
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
