// Package collector builds the exporter's /metrics, in the manner of
// node_exporter: each collector lives in its own file and registers a
// factory in init(); New builds every collector the Config turns on, and the
// Set it returns runs them in parallel on each scrape and reports each one's
// vcr_scrape_collector_duration_seconds and vcr_scrape_collector_success.
package collector

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/exporter/inventory"
	"github.com/vcrcovery/vcrcovery/exporter/lifecycle"
	"github.com/vcrcovery/vcrcovery/exporter/snmptrap"
)

const namespace = "vcr"

// Collector is one part of the exporter (libvirt, events, snmp, lxd): it
// writes its metrics to ch and returns an error if it could not, which
// costs only its own success metric.
type Collector interface {
	Update(ctx context.Context, ch chan<- prometheus.Metric) error
}

// Config is what the collectors are built from: the exporter's labels and
// the parts they read. A collector whose part is nil is off.
type Config struct {
	// Host and Cloud label every series.
	Host, Cloud string
	// ScrapeTimeout bounds one scrape of all collectors together.
	ScrapeTimeout time.Duration
	Logger        *slog.Logger

	// Libvirt lends the libvirt collector its connection and tells the
	// events collector whether it is subscribed (libvirt and events).
	Libvirt *lifecycle.Supervisor
	// States holds what lifecycle events said, newer than a stats snapshot
	// or about a domain that vanished (libvirt).
	States *lifecycle.StateCache
	// Inventory caches domain XML, jobs and storage pools (libvirt); nil
	// leaves those metrics out.
	Inventory *inventory.Inventory
	// Events counts lifecycle events and failures (events).
	Events *lifecycle.Tracker
	// SNMP is the trap receiver, which exports what it counted (snmp).
	SNMP *snmptrap.Receiver
	// LXD configures the view of the standby VM's LXD daemon (lxd).
	LXD *LXDOptions
}

// factory builds one collector from cfg, or returns nil, nil when cfg
// turns it off.
type factory func(cfg Config) (Collector, error)

// factories holds every collector by the name its scrape metrics carry.
var factories = map[string]factory{}

// registerCollector is called from each collector's init().
func registerCollector(name string, f factory) {
	if _, dup := factories[name]; dup {
		panic("collector " + name + " registered twice")
	}
	factories[name] = f
}

// The scrape metrics every collector reports.
const (
	scrapeDurationName = namespace + "_scrape_collector_duration_seconds"
	scrapeDurationHelp = "vcr-exporter: duration of a collector scrape."
	scrapeSuccessName  = namespace + "_scrape_collector_success"
	scrapeSuccessHelp  = "vcr-exporter: whether a collector succeeded."
)

var (
	scrapeDurationDesc = prometheus.NewDesc(scrapeDurationName, scrapeDurationHelp, []string{"collector"}, nil)
	scrapeSuccessDesc  = prometheus.NewDesc(scrapeSuccessName, scrapeSuccessHelp, []string{"collector"}, nil)
)

// Set runs every collector in parallel on each scrape, bounded by the
// scrape timeout, and reports each one's duration and success. It is the
// one prometheus.Collector the exporter registers for its own metrics.
type Set struct {
	collectors map[string]Collector
	timeout    time.Duration
	logger     *slog.Logger
}

// New builds every registered collector that cfg turns on. A collector
// checks its options here, so a wrong one fails start-up.
func New(cfg Config) (*Set, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Set{collectors: make(map[string]Collector), timeout: cfg.ScrapeTimeout,
		logger: cfg.Logger.With("component", "scrape")}
	for name, f := range factories {
		c, err := f(cfg)
		if err != nil {
			return nil, err // each collector's errors name it already
		}
		if c != nil {
			s.collectors[name] = c
		}
	}
	return s, nil
}

// WithTimeout is the set bounded by d for one scrape, when d is shorter than
// its own timeout: for a scraper that says how long it waits (Prometheus'
// X-Prometheus-Scrape-Timeout-Seconds), so that the collectors give up, and
// the page goes out with what they have, before the scraper does.
func (s *Set) WithTimeout(d time.Duration) *Set {
	if d <= 0 || d >= s.timeout {
		return s
	}
	c := *s
	c.timeout = d
	return &c
}

// Describe sends only the scrape metrics: the collectors' metrics depend on
// what libvirt and LXD report, so the set is an unchecked collector.
func (s *Set) Describe(ch chan<- *prometheus.Desc) {
	ch <- scrapeDurationDesc
	ch <- scrapeSuccessDesc
}

func (s *Set) Collect(ch chan<- prometheus.Metric) { s.collect(ch, true) }

// collect runs the collectors, the family collectors too if withFamilies.
func (s *Set) collect(ch chan<- prometheus.Metric, withFamilies bool) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	var wg sync.WaitGroup
	for name, c := range s.collectors {
		if _, ok := c.(familyCollector); ok && !withFamilies {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.run(ctx, name, c, ch)
		}()
	}
	wg.Wait()
}

func (s *Set) run(ctx context.Context, name string, c Collector, ch chan<- prometheus.Metric) {
	start := time.Now()
	err := c.Update(ctx, ch)
	d, success := s.outcome(name, start, err)
	ch <- prometheus.MustNewConstMetric(scrapeDurationDesc, prometheus.GaugeValue, d, name)
	ch <- prometheus.MustNewConstMetric(scrapeSuccessDesc, prometheus.GaugeValue, success, name)
}

// outcome logs how a collector did and returns its duration and success.
func (s *Set) outcome(name string, start time.Time, err error) (seconds, success float64) {
	d := time.Since(start)
	if err != nil {
		s.logger.Error("collector failed", "collector", name, "duration_seconds", d.Seconds(), "err", err)
		return d.Seconds(), 0
	}
	s.logger.Debug("collector succeeded", "collector", name, "duration_seconds", d.Seconds())
	return d.Seconds(), 1
}
