package datasync

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are vcr-sync's instruments, registered once at start.
type metrics struct {
	reg         *prometheus.Registry
	lastSuccess *prometheus.GaugeVec
	rpo         *prometheus.GaugeVec
	lag         *prometheus.GaugeVec
	running     *prometheus.GaugeVec
	bytes       *prometheus.CounterVec
	errors      *prometheus.CounterVec
	failing     *prometheus.GaugeVec
	mode        *prometheus.GaugeVec
	duration    *prometheus.GaugeVec
	seeds       *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vcr_sync_last_success_timestamp_seconds",
			Help: "The time up to which the standby (or the backup store) holds the primary's data: for database, the newest heartbeat the replica applied; for files and backup, when the last complete copy started. 0: never."},
			[]string{"service", "kind"}),
		rpo: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vcr_sync_rpo_seconds",
			Help: "The configured bound on the age of each kind of a service's data."}, []string{"service", "kind"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vcr_sync_replica_lag_seconds",
			Help: "Now minus the newest heartbeat the replica applied (heartbeats are written every database.heartbeat_interval on the source)."},
			[]string{"service"}),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vcr_sync_replication_running",
			Help: "1 while the replica's IO (fetch) or SQL (apply) thread runs, per thread; absent while no replica is expected (promoted)."},
			[]string{"service", "thread"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vcr_sync_transferred_bytes_total",
			Help: "Bytes copied for a service: rsync's wire bytes for files and backups, dump bytes for seeding and backups."},
			[]string{"service", "kind"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vcr_sync_errors_total",
			Help: "Failed sync attempts by cause (see docs/runbooks.md, VCRSyncFailing)."}, []string{"service", "kind", "cause"}),
		failing: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vcr_sync_failing",
			Help: "1 while the last attempt of a kind failed, labelled with its cause; absent once an attempt succeeds."},
			[]string{"service", "kind", "cause"}),
		mode: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vcr_sync_mode",
			Help: "1 for the service's current direction: forward (primary to standby), promoted (standby serves, nothing copied), reversed (standby to primary, before failback)."},
			[]string{"service", "mode"}),
		duration: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vcr_sync_last_duration_seconds",
			Help: "How long the last attempt of a kind took."}, []string{"service", "kind"}),
		seeds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vcr_sync_seeds_total",
			Help: "Times a replica was seeded with a full copy of its source."}, []string{"service"}),
	}
	m.reg.MustRegister(m.lastSuccess, m.rpo, m.lag, m.running, m.bytes, m.errors, m.failing, m.mode, m.duration, m.seeds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// allCauses lets a success clear whichever cause series the last failure set.
var allCauses = []Cause{CauseSSHAuth, CauseSSHHostKey, CauseSSHKeyFile, CauseUnreachable, CauseInterrupted,
	CauseMissingPath, CauseRemoteTool, CauseMySQLAuth, CauseMySQLConnect, CauseReplicationIO, CauseReplicationSQL,
	CauseMisconfigured, CauseDiverged, CauseLocal, CauseOther}

func (m *metrics) setFailing(service, kind string, cause Cause) {
	for _, c := range allCauses {
		if c != cause {
			m.failing.DeleteLabelValues(service, kind, string(c))
		}
	}
	if cause != "" {
		m.failing.WithLabelValues(service, kind, string(cause)).Set(1)
	}
}

func (m *metrics) setMode(service string, mode Mode) {
	for _, md := range []Mode{ModeForward, ModePromoted, ModeReversed} {
		v := 0.0
		if md == mode {
			v = 1
		}
		m.mode.WithLabelValues(service, string(md)).Set(v)
	}
}
