package exportertest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Samples is a parsed /metrics page, by metric family name.
type Samples map[string]*dto.MetricFamily

// ParseMetrics parses the text exposition format.
func ParseMetrics(t testing.TB, r io.Reader) Samples {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return mf
}

// ScrapeURL gets and parses one /metrics page.
func ScrapeURL(t testing.TB, url string) (Samples, error) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return ParseMetrics(t, resp.Body), nil
}

// Gather gathers reg as a scrape would see it.
func Gather(t testing.TB, reg *prometheus.Registry) Samples {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	s := Samples{}
	for _, mf := range mfs {
		s[mf.GetName()] = mf
	}
	return s
}

// GatherValue is the value of name{label="value"} in reg; it fails t if
// there is no such series.
func GatherValue(t testing.TB, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	v, ok := Gather(t, reg).Get(name, map[string]string{label: value})
	if !ok {
		t.Fatalf("no %s{%s=%q}", name, label, value)
	}
	return v
}

// Get returns the value of the series of name whose labels include want.
func (s Samples) Get(name string, want map[string]string) (float64, bool) {
	mf, ok := s[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// String lists the metric family names, for failure messages.
func (s Samples) String() string {
	var names []string
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// CollectorAdapter exposes one exporter collector (anything with the
// collector.Collector method) to client_golang's registry and test helpers,
// and keeps the error of its last Update.
type CollectorAdapter struct {
	C interface {
		Update(ctx context.Context, ch chan<- prometheus.Metric) error
	}
	Timeout time.Duration
	Err     error
}

func (a *CollectorAdapter) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(a, ch) }

func (a *CollectorAdapter) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), a.Timeout)
	defer cancel()
	a.Err = a.C.Update(ctx, ch)
}
