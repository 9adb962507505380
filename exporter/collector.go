package exporter

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "vcr"

// Collector is one part of the exporter (libvirt, events, snmp), in the
// manner of node_exporter: it writes its metrics to ch and returns an error
// if it could not, which costs only its own success metric.
type Collector interface {
	Update(ctx context.Context, ch chan<- prometheus.Metric) error
}

var (
	scrapeDurationDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "scrape", "collector_duration_seconds"),
		"vcr-exporter: duration of a collector scrape.",
		[]string{"collector"}, nil)
	scrapeSuccessDesc = prometheus.NewDesc(
		prometheus.BuildFQName(namespace, "scrape", "collector_success"),
		"vcr-exporter: whether a collector succeeded.",
		[]string{"collector"}, nil)
)

// collectorSet runs every collector in parallel on each scrape, bounded by
// the scrape timeout, and reports each one's duration and success.
type collectorSet struct {
	collectors map[string]Collector
	timeout    time.Duration
	logger     *slog.Logger
}

// Describe sends only the scrape metrics: the collectors' metrics depend on
// what libvirt reports, so the set is an unchecked collector.
func (s *collectorSet) Describe(ch chan<- *prometheus.Desc) {
	ch <- scrapeDurationDesc
	ch <- scrapeSuccessDesc
}

func (s *collectorSet) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	var wg sync.WaitGroup
	for name, c := range s.collectors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.run(ctx, name, c, ch)
		}()
	}
	wg.Wait()
}

func (s *collectorSet) run(ctx context.Context, name string, c Collector, ch chan<- prometheus.Metric) {
	start := time.Now()
	err := c.Update(ctx, ch)
	d := time.Since(start)
	success := 1.0
	if err != nil {
		success = 0
		s.logger.Error("collector failed", "collector", name, "duration_seconds", d.Seconds(), "err", err)
	} else {
		s.logger.Debug("collector succeeded", "collector", name, "duration_seconds", d.Seconds())
	}
	ch <- prometheus.MustNewConstMetric(scrapeDurationDesc, prometheus.GaugeValue, d.Seconds(), name)
	ch <- prometheus.MustNewConstMetric(scrapeSuccessDesc, prometheus.GaugeValue, success, name)
}
