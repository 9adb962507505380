package receiver

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the receiver's own Prometheus metrics, built once.
type metrics struct {
	recoveries      *prometheus.CounterVec
	phaseDuration   *prometheus.HistogramVec
	incidentsOpen   prometheus.Gauge
	webhookRequests *prometheus.CounterVec
	journalWrite    prometheus.Histogram
	alertsReceived  *prometheus.CounterVec
	reloadSuccess   prometheus.Gauge
	reloadsTotal    *prometheus.CounterVec
	dnsUpdates      *prometheus.CounterVec

	dnsProbeSuccess     *prometheus.GaugeVec
	dnsProbeLastSuccess *prometheus.GaugeVec
	journalWriteErrors  prometheus.Counter
	leaseLost           prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		recoveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vcr_recoveries_total",
			Help: "Recoveries that ended, by service, strategy and outcome (resolved, failed, needs-attention).",
		}, []string{"service", "strategy", "outcome"}),
		phaseDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vcr_recovery_phase_duration_seconds",
			Help:    "Duration of completed recovery phases.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"phase"}),
		incidentsOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vcr_incidents_open",
			Help: "Incidents holding their service: running, failed or needing attention, not yet resolved or acknowledged.",
		}),
		webhookRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vcr_webhook_requests_total",
			Help: "Webhook requests by HTTP status code.",
		}, []string{"code"}),
		journalWrite: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vcr_journal_write_duration_seconds",
			Help:    "Time to write a batch durably to the journal.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		alertsReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vcr_alerts_received_total",
			Help: "Alerts journaled, by source (the alert's source label or generator host) and status.",
		}, []string{"source", "status"}),
		reloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vcr_config_reload_success",
			Help: "1 if the last configuration reload succeeded, 0 if it failed and the old config is still in use.",
		}),
		reloadsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vcr_config_reload_total",
			Help: "Configuration reloads by result (success, failure).",
		}, []string{"result"}),
		dnsUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vcr_dns_updates_total",
			Help: "DNS UPDATE messages sent to switch a service, by result.",
		}, []string{"service", "result"}),
		dnsProbeSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vcr_receiver_dns_probe_success",
			Help: "1 if the DNS server's last TSIG-signed SOA probe of every zone switched there succeeded, 0 if not.",
		}, []string{"server"}),
		dnsProbeLastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vcr_receiver_dns_probe_last_success_timestamp_seconds",
			Help: "When the DNS server last passed its TSIG-signed SOA probe, in seconds since the epoch.",
		}, []string{"server"}),
		journalWriteErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vcr_journal_write_errors_total",
			Help: "Journal writes that failed (disk, etcd quorum); a claim conflict or a lost ownership is a verdict, not an error.",
		}),
		leaseLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vcr_receiver_etcd_lease_lost_total",
			Help: "Times this replica lost its etcd lease and stopped its pipelines (etcd journal only).",
		}),
	}
	m.reloadSuccess.Set(1)
	if reg != nil {
		reg.MustRegister(m.recoveries, m.phaseDuration, m.incidentsOpen, m.webhookRequests,
			m.journalWrite, m.alertsReceived, m.reloadSuccess, m.reloadsTotal, m.dnsUpdates,
			m.dnsProbeSuccess, m.dnsProbeLastSuccess, m.journalWriteErrors, m.leaseLost)
	}
	return m
}

// heldIncidents exports vcr_incidents_held{service,state}: one series per
// incident this replica holds, read from the store at each scrape, so a
// failed or needs-attention incident waiting for an operator raises an
// alert (rules/vcr-receiver-health.rules.yml) for as long as it waits.
type heldIncidents struct {
	s    *store
	desc *prometheus.Desc
}

func newHeldIncidents(s *store) *heldIncidents {
	return &heldIncidents{s: s, desc: prometheus.NewDesc("vcr_incidents_held",
		"Incidents this replica holds (running, failed or needing attention, until resolved or acknowledged), by service and state.",
		[]string{"service", "state"}, nil)}
}

func (h *heldIncidents) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

func (h *heldIncidents) Collect(ch chan<- prometheus.Metric) {
	h.s.mu.Lock()
	counts := map[[2]string]int{}
	for _, mi := range h.s.incidents {
		counts[[2]string{mi.inc.Service, string(mi.inc.State)}]++
	}
	h.s.mu.Unlock()
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(h.desc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}

// forgetDNSServer drops the probe series of a server gone from the
// configuration.
func (m *metrics) forgetDNSServer(server string) {
	m.dnsProbeSuccess.DeleteLabelValues(server)
	m.dnsProbeLastSuccess.DeleteLabelValues(server)
}

// ReloadResult records a configuration reload attempt in the metrics.
func (r *Receiver) ReloadResult(ok bool) {
	if ok {
		r.m.reloadSuccess.Set(1)
		r.m.reloadsTotal.WithLabelValues("success").Inc()
		return
	}
	r.m.reloadSuccess.Set(0)
	r.m.reloadsTotal.WithLabelValues("failure").Inc()
}
