package exporter

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// eventsCollector exports the event counters and the subscription state.
type eventsCollector struct {
	src *eventSource
	sup *supervisor

	events, failures, subscribed, connects *prometheus.Desc
}

func newEventsCollector(src *eventSource, sup *supervisor) *eventsCollector {
	constLabels := prometheus.Labels{"host": src.host, "cloud": src.cloud}
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
	c.src.mu.Lock()
	for ev, n := range c.src.counts {
		ch <- prometheus.MustNewConstMetric(c.events, prometheus.CounterValue, n, ev)
	}
	for name, n := range c.src.failures {
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, n, name)
	}
	c.src.mu.Unlock()
	sub := 0.0
	if c.sup.subscribed.Load() {
		sub = 1
	}
	ch <- prometheus.MustNewConstMetric(c.subscribed, prometheus.GaugeValue, sub)
	ch <- prometheus.MustNewConstMetric(c.connects, prometheus.CounterValue, float64(c.sup.connects.Load()))
	return nil
}
