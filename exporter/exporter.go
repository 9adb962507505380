package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"

	"github.com/vcrcovery/vcrcovery/exporter/collector"
	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/exporter/fastpath"
	"github.com/vcrcovery/vcrcovery/exporter/inventory"
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
	SNMP *snmptrap.Options
	// LXD is nil when the LXD collector is off (neither --lxd.socket nor
	// --lxd.url).
	LXD *collector.LXDOptions
	// XMLTTL bounds how long a domain's parsed XML is kept without an event
	// that changes it; JobInterval is how often running domains are asked
	// for a job; PoolInterval how often storage pools are read. Zero takes
	// the flag's default, a negative interval turns that part off.
	XMLTTL, JobInterval, PoolInterval time.Duration
	// MetadataLabels are --libvirt.metadata-label values, LABEL=URI#PATH.
	MetadataLabels []string
	Logger         *slog.Logger
}

// Exporter is vcr-exporter without its flags and HTTP server.
type Exporter struct {
	logger   *slog.Logger
	registry *prometheus.Registry
	// set is the collector set; static holds the collectors outside it
	// (Go, process, build info, fast path). /metrics serves both (scrape).
	set           *collector.Set
	static        *prometheus.Registry
	scrapeTimeout time.Duration
	sup           *lifecycle.Supervisor
	fast          *fastpath.Pusher
	snmp          *snmptrap.Receiver
	started       atomic.Bool
	isReady       atomic.Bool
	attempt       chan struct{} // closed after the first libvirt connection attempt
}

// New builds the exporter's parts and wires them: the fast path, the
// lifecycle supervisor and tracker, the SNMP trap receiver, and the
// collector set, the one registration of every collector. Bad options fail
// here: a bad Alertmanager URL, LXD certificate files, and, with SNMP on, a
// trap address that cannot be bound.
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
	inv, err := newInventory(opts)
	if err != nil {
		return nil, err
	}
	e := &Exporter{logger: opts.Logger, registry: prometheus.NewRegistry(), static: prometheus.NewRegistry(),
		scrapeTimeout: opts.ScrapeTimeout, attempt: make(chan struct{})}

	var sink failure.Sink
	if opts.FastPath != nil && len(opts.FastPath.URLs) > 0 {
		fp, err := fastpath.New(*opts.FastPath, opts.Logger.With("component", "fastpath"))
		if err != nil {
			return nil, err
		}
		e.fast = fp
		sink = fp
		// The pusher's counters and histograms change as alerts go out;
		// nothing is collected per scrape, so it is no collector of the set.
		e.registry.MustRegister(fp)
	}

	cache := lifecycle.NewStateCache(opts.EventRetention)
	tracker := lifecycle.NewTracker(opts.Host, opts.Cloud, cache, sink, opts.Logger.With("component", "events"))
	tracker.OnChange(inv.Changed)
	e.sup = lifecycle.NewSupervisor(e.dialOnce(opts.Dial), tracker, opts.Logger.With("component", "libvirt"))

	if opts.SNMP != nil {
		so := *opts.SNMP
		if so.Cloud == "" {
			so.Cloud = opts.Cloud
		}
		snmp, err := snmptrap.New(so, sink, opts.Logger.With("component", "snmp"))
		if err != nil {
			return nil, err
		}
		e.snmp = snmp
	}
	set, err := collector.New(collector.Config{Host: opts.Host, Cloud: opts.Cloud, ScrapeTimeout: opts.ScrapeTimeout,
		Logger: opts.Logger, Libvirt: e.sup, States: cache, Inventory: inv, Events: tracker, SNMP: e.snmp, LXD: opts.LXD})
	if err != nil {
		return nil, err
	}
	// Bind last, so that no other bad option leaves the socket open.
	if e.snmp != nil {
		if err := e.snmp.Listen(); err != nil {
			return nil, err
		}
	}
	// The Go and process metrics under their usual names (go_*, process_*),
	// as every exporter has them, and vcr_exporter_build_info.
	goc, proc, build := collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector("vcr_exporter")
	e.registry.MustRegister(set, goc, proc, build)
	e.static.MustRegister(goc, proc, build)
	if e.fast != nil {
		e.static.MustRegister(e.fast)
	}
	e.set = set
	return e, nil
}

// scrape is what one /metrics request serves: the collector set bounded by
// budget, and base, the registry of everything else it is written over (the
// static collectors and the set's classic ones under the same bound). The
// libvirt collector's series go out without the registry's per-series work.
func (e *Exporter) scrape(budget time.Duration) (set *collector.Set, base prometheus.Gatherer) {
	set = e.set.WithTimeout(budget)
	classic := prometheus.NewRegistry()
	classic.MustRegister(set.Classic())
	return set, prometheus.Gatherers{e.static, classic}
}

// newInventory parses the metadata keys and builds the cache of domain XML,
// jobs and storage pools.
func newInventory(opts Options) (*inventory.Inventory, error) {
	io := inventory.Options{XMLTTL: opts.XMLTTL, JobInterval: opts.JobInterval, PoolInterval: opts.PoolInterval,
		CallTimeout: opts.ScrapeTimeout, Logger: opts.Logger.With("component", "inventory")}
	if io.JobInterval == 0 {
		io.JobInterval = 15 * time.Second
	}
	if io.PoolInterval == 0 {
		io.PoolInterval = time.Minute
	}
	seen := map[string]bool{}
	for _, raw := range opts.MetadataLabels {
		k, err := inventory.ParseMetadataKey(raw)
		if err != nil {
			return nil, err
		}
		if seen[k.Label] {
			return nil, fmt.Errorf("--libvirt.metadata-label %q: label %s given twice", raw, k.Label)
		}
		seen[k.Label] = true
		io.MetadataKeys = append(io.MetadataKeys, k)
	}
	return inventory.New(io), nil
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

// SNMPAddr is the trap socket's address, or empty with SNMP off.
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
