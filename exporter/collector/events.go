package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/exporter/lifecycle"
)

// The events collector is on whenever the exporter follows a libvirtd.
func init() {
	registerCollector("events", func(cfg Config) (Collector, error) {
		if cfg.Events == nil || cfg.Libvirt == nil {
			return nil, nil
		}
		return newEventsCollector(cfg.Events, cfg.Libvirt, cfg.Host, cfg.Cloud), nil
	})
}

// eventsCollector exports the event counters and the subscription state.
type eventsCollector struct {
	src *lifecycle.Tracker
	sup *lifecycle.Supervisor

	events, failures, subscribed, connects *prometheus.Desc
}

func newEventsCollector(src *lifecycle.Tracker, sup *lifecycle.Supervisor, host, cloud string) *eventsCollector {
	constLabels := prometheus.Labels{"host": host, "cloud": cloud}
	return &eventsCollector{src: src, sup: sup,
		events: prometheus.NewDesc("vcr_domain_lifecycle_events_total",
			"libvirt domain lifecycle events received, by event type.", []string{"event"}, constLabels),
		failures: prometheus.NewDesc("vcr_domain_failures_total",
			"Lifecycle events (and reconciled state changes) classified as domain failures, by the alert they raise.", []string{"alertname"}, constLabels),
		subscribed: prometheus.NewDesc("vcr_libvirt_events_subscribed",
			"1 while the exporter is subscribed to libvirt lifecycle events.", nil, constLabels),
		connects: prometheus.NewDesc("vcr_libvirt_connections_total",
			"Successful connections (with event subscription) to libvirtd, the first included.", nil, constLabels),
	}
}

func (c *eventsCollector) Update(_ context.Context, ch chan<- prometheus.Metric) error {
	events, failures := c.src.Counts()
	for ev, n := range events {
		ch <- prometheus.MustNewConstMetric(c.events, prometheus.CounterValue, n, ev)
	}
	for name, n := range failures {
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, n, name)
	}
	sub := 0.0
	if c.sup.Subscribed() {
		sub = 1
	}
	ch <- prometheus.MustNewConstMetric(c.subscribed, prometheus.GaugeValue, sub)
	ch <- prometheus.MustNewConstMetric(c.connects, prometheus.CounterValue, float64(c.sup.Connects()))
	return nil
}
