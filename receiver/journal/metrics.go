package journal

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Size is how much a journal holds.
type Size struct {
	// Bytes is the storage's size: the bbolt file, or the etcd member's
	// database (every key in it, not only the journal's: etcd's
	// --quota-backend-bytes applies to that).
	Bytes                     int64
	Alerts, Events, Incidents int64
}

// sizeTimeout bounds how long a scrape waits for the journal's size.
const sizeTimeout = 2 * time.Second

// Metrics exports a journal's size, read at each scrape, and counts what
// Prune deleted. Each backend keeps one and returns it from Collector.
type Metrics struct {
	size    func(context.Context) (Size, error)
	bytes   *prometheus.Desc
	records *prometheus.Desc
	pruned  *prometheus.CounterVec
}

// NewMetrics builds the collector; size reads the journal's size.
func NewMetrics(size func(context.Context) (Size, error)) *Metrics {
	m := &Metrics{
		size: size,
		bytes: prometheus.NewDesc("vcr_receiver_journal_bytes",
			"Size of the journal's storage: the bbolt file, or the etcd member's whole database.", nil, nil),
		records: prometheus.NewDesc("vcr_receiver_journal_records",
			"Records in the journal, by kind (alerts, events, incidents).", []string{"kind"}, nil),
		pruned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vcr_receiver_journal_pruned_total",
			Help: "Records retention deleted from the journal, by kind (alerts, events, incidents).",
		}, []string{"kind"}),
	}
	for _, k := range []string{"alerts", "events", "incidents"} {
		m.pruned.WithLabelValues(k)
	}
	return m
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.bytes
	ch <- m.records
	m.pruned.Describe(ch)
}

// Collect implements prometheus.Collector. When the size cannot be read
// (etcd without quorum) the size metrics are left out of this scrape; the
// rest of /metrics is served as usual.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), sizeTimeout)
	defer cancel()
	if s, err := m.size(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(m.bytes, prometheus.GaugeValue, float64(s.Bytes))
		ch <- prometheus.MustNewConstMetric(m.records, prometheus.GaugeValue, float64(s.Alerts), "alerts")
		ch <- prometheus.MustNewConstMetric(m.records, prometheus.GaugeValue, float64(s.Events), "events")
		ch <- prometheus.MustNewConstMetric(m.records, prometheus.GaugeValue, float64(s.Incidents), "incidents")
	}
	m.pruned.Collect(ch)
}

// CountPruned adds what one Prune deleted.
func (m *Metrics) CountPruned(s PruneStats) {
	m.pruned.WithLabelValues("alerts").Add(float64(s.Alerts))
	m.pruned.WithLabelValues("events").Add(float64(s.Events))
	m.pruned.WithLabelValues("incidents").Add(float64(s.Incidents))
}
