package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/exporter/fastpath"
	"github.com/vcrcovery/vcrcovery/exporter/lifecycle"
	"github.com/vcrcovery/vcrcovery/exporter/snmptrap"
)

// Options configures an Exporter. Zero values get the defaults of the
// vcr-exporter flags.
type Options struct {
	// Dial opens the libvirt connection; see lifecycle.LibvirtDialer.
	Dial lifecycle.Dialer
	// Host and Cloud label the domain metrics and fast-path alerts. They
	// must equal the Prometheus target labels of this exporter.
	Host, Cloud string
	// ScrapeTimeout bounds one scrape (the libvirt round trip included).
	ScrapeTimeout time.Duration
	// EventRetention is how long a domain that vanished after a stop or
	// crash event keeps being exported with that state.
	EventRetention time.Duration
	// FastPath is nil, or has no URLs, when the fast path is off.
	FastPath *fastpath.Options
	// SNMP is nil when the trap receiver is off.
	SNMP   *snmptrap.Options
	Logger *slog.Logger
}

// Exporter is vcr-exporter without its flags and HTTP server.
type Exporter struct {
	opts     Options
	logger   *slog.Logger
	registry *prometheus.Registry
	sup      *lifecycle.Supervisor
	fast     *fastpath.Pusher
	snmp     *snmptrap.Receiver
	started  atomic.Bool
	isReady  atomic.Bool
	attempt  chan struct{} // closed after the first libvirt connection attempt
}

// New builds the exporter and registers its collectors. With SNMP on, it
// binds the trap socket so a bad address fails here.
func New(opts Options) (*Exporter, error) {
	if opts.Dial == nil {
		return nil, errors.New("exporter: no libvirt dialer")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ScrapeTimeout <= 0 {
		opts.ScrapeTimeout = 10 * time.Second
	}
	if opts.EventRetention <= 0 {
		opts.EventRetention = 10 * time.Minute
	}
	e := &Exporter{opts: opts, logger: opts.Logger, registry: prometheus.NewRegistry(), attempt: make(chan struct{})}

	var sink failure.Sink
	if opts.FastPath != nil && len(opts.FastPath.URLs) > 0 {
		fp, err := fastpath.New(*opts.FastPath, opts.Logger.With("component", "fastpath"))
		if err != nil {
			return nil, err
		}
		e.fast = fp
		sink = fp
		e.registry.MustRegister(fp)
	}

	cache := lifecycle.NewStateCache(opts.EventRetention)
	tracker := lifecycle.NewTracker(opts.Host, opts.Cloud, cache, sink, opts.Logger.With("component", "events"))
	e.sup = lifecycle.NewSupervisor(e.dialOnce(opts.Dial), tracker, opts.Logger.With("component", "libvirt"))

	set := &collectorSet{
		collectors: map[string]Collector{
			"libvirt": newLibvirtCollector(e.sup, cache, opts.Host, opts.Cloud),
			"events":  newEventsCollector(tracker, e.sup, opts.Host, opts.Cloud),
		},
		timeout: opts.ScrapeTimeout,
		logger:  opts.Logger.With("component", "scrape"),
	}
	if opts.SNMP != nil {
		so := *opts.SNMP
		if so.Cloud == "" {
			so.Cloud = opts.Cloud
		}
		e.snmp = snmptrap.New(so, sink, opts.Logger.With("component", "snmp"))
		if err := e.snmp.Listen(); err != nil {
			return nil, err
		}
		set.collectors["snmp"] = e.snmp
	}
	e.registry.MustRegister(set,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: namespace}),
	)
	return e, nil
}

// dialOnce wraps dial to note the end of the first attempt, for /-/ready.
func (e *Exporter) dialOnce(dial lifecycle.Dialer) lifecycle.Dialer {
	var once sync.Once
	return func(ctx context.Context) (lifecycle.Client, error) {
		c, err := dial(ctx)
		if err != nil {
			once.Do(func() { close(e.attempt) })
		}
		return c, err
	}
}

// Registry is the exporter's registry, for tests and embedding.
func (e *Exporter) Registry() *prometheus.Registry { return e.registry }

// SNMPAddr is the trap socket's address, or nil with SNMP off.
func (e *Exporter) SNMPAddr() string {
	if e.snmp == nil {
		return ""
	}
	return e.snmp.Addr().String()
}

// Run connects to libvirt, follows events, and runs the fast path and the
// SNMP receiver until ctx ends.
func (e *Exporter) Run(ctx context.Context) error {
	if e.started.Swap(true) {
		return errors.New("exporter: Run called twice")
	}
	var wg sync.WaitGroup
	start := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	if e.fast != nil {
		start(e.fast.Run)
	}
	if e.snmp != nil {
		start(e.snmp.Run)
	}
	start(e.sup.Run)
	go func() {
		select {
		case <-e.sup.Connected():
		case <-e.attempt:
		case <-ctx.Done():
		}
		e.markReady()
	}()
	wg.Wait()
	return nil
}

func (e *Exporter) markReady() { e.isReady.Store(true) }

func (e *Exporter) ready() bool { return e.isReady.Load() }

// Handler serves the telemetry path, /-/healthy, /-/ready and a landing page.
func (e *Exporter) Handler(telemetryPath, version string) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle(telemetryPath, promhttp.HandlerFor(e.registry, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(e.logger.Handler(), slog.LevelError),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 10,
	}))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		fmt.Fprintln(w, "Healthy")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !e.ready() {
			http.Error(w, "Not ready: first libvirt connection attempt still running", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
		if e.sup.Current() != nil {
			fmt.Fprintln(w, "Ready (libvirt connected)")
		} else {
			fmt.Fprintln(w, "Ready (libvirt unreachable: vcr_libvirt_up is 0, reconnecting)")
		}
	})
	if telemetryPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "vcr-exporter",
			Description: "libvirt domain metrics, lifecycle events and the VCRcovery alert fast path",
			Version:     version,
			Links: []web.LandingLinks{
				{Address: telemetryPath, Text: "Metrics"},
				{Address: "/-/healthy", Text: "Health"},
				{Address: "/-/ready", Text: "Readiness"},
			},
		})
		if err != nil {
			return nil, fmt.Errorf("landing page: %w", err)
		}
		mux.Handle("/", landing)
	}
	return mux, nil
}
