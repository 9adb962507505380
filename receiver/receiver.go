// Package receiver is vcr-receiver's core: the Alertmanager webhook that
// journals alerts and opens at most one incident per service (ingest.go),
// the incident store (store.go), manual runs and acknowledgements
// (manual.go) and the HTTP API that shows them (http.go). Each incident's
// recovery runs in package pipeline; who may act on an incident is decided
// by package ownership.
package receiver

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/receiver/config"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
	"github.com/vcrcovery/vcrcovery/receiver/ownership"
	"github.com/vcrcovery/vcrcovery/receiver/pipeline"
)

// Options are the receiver's collaborators. Journal and Config are
// required; nil Fencer, Strategies, Prober or DNS make the stages that need
// them fail with a clear error.
type Options struct {
	Config     *config.Config
	Journal    journal.Journal
	Fencer     pipeline.Fencer
	Strategies pipeline.Strategies
	Prober     pipeline.Prober
	DNS        pipeline.DNS
	// DNSProbe, when set, probes each DNS server at its probe_interval;
	// a failing server makes /-/ready answer 503.
	DNSProbe DNSProber
	Logger   *slog.Logger
	Registry prometheus.Registerer
	Clock    pipeline.Clock
}

// Receiver accepts alerts and operators' requests. Its store holds the open
// incidents in memory (the journal holds all of them) and runs one pipeline
// goroutine per running incident.
type Receiver struct {
	opts  Options
	cfg   atomic.Pointer[config.Config]
	log   *slog.Logger
	clock pipeline.Clock
	m     *metrics
	own   ownership.Ownership
	store *store
	dns   dnsHealth

	ctx    context.Context // ends at Shutdown
	cancel context.CancelFunc
	ready  atomic.Bool
}

// New builds a receiver. Call Start to load the journal and resume work.
func New(opts Options) (*Receiver, error) {
	if opts.Config == nil || opts.Journal == nil {
		return nil, fmt.Errorf("receiver needs a config and a journal")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = pipeline.RealClock{}
	}
	r := &Receiver{
		opts:  opts,
		log:   opts.Logger,
		clock: opts.Clock,
		m:     newMetrics(opts.Registry),
	}
	r.cfg.Store(opts.Config)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.own = ownership.New(opts.Journal, opts.Registry, func() int { return r.store.count() })
	p := pipeline.New(pipeline.Options{
		Config: r.Config, Fencer: opts.Fencer, Strategies: opts.Strategies, Prober: opts.Prober, DNS: opts.DNS,
		Clock: opts.Clock, Logger: opts.Logger,
		Metrics: pipeline.Metrics{Recoveries: r.m.recoveries, PhaseDuration: r.m.phaseDuration, DNSUpdates: r.m.dnsUpdates},
	})
	r.store = newStore(r.ctx, r.own, p, r.m, r.log)
	if opts.Registry != nil {
		opts.Registry.MustRegister(newHeldIncidents(r.store))
	}
	if h, ok := r.history(); ok && opts.Registry != nil {
		opts.Registry.MustRegister(h.Collector())
	}
	return r, nil
}

// Config returns the configuration in use.
func (r *Receiver) Config() *config.Config { return r.cfg.Load() }

// SetConfig swaps in a validated configuration. Running incidents pick it
// up at their next phase.
func (r *Receiver) SetConfig(cfg *config.Config) { r.cfg.Store(cfg) }

// Start loads the journal, restores which services hold incidents and where
// each service runs, and resumes every incident whose pipeline had not
// finished and that this replica owns; other replicas' incidents are adopted
// once their owner's lease expired (including this replica's own from
// before a restart), in the background. Completed phases are never run
// again.
func (r *Receiver) Start(ctx context.Context) error {
	incs, err := r.opts.Journal.Incidents(ctx)
	if err != nil {
		return fmt.Errorf("load incidents from journal: %w", err)
	}
	// Maintenance windows first: none may be missing once the receiver
	// answers webhooks. A journal that cannot list them does not keep the
	// receiver from recovering services (their silences still hold); it
	// tries again every maintenanceRefresh.
	restored := r.restoreMaintenance(ctx)
	if restored != nil {
		r.log.Error("maintenance windows not restored; recovering as if none held until they are", "err", restored)
	}
	for _, id := range r.store.load(incs) {
		r.log.Info("resuming incident after restart", "incident", id)
		r.store.start(id)
	}
	r.adoptOrphans()
	if r.opts.DNSProbe != nil {
		// The first round runs before the receiver says it is ready, so
		// /-/ready is truthful from the start.
		r.probeDNS(ctx)
		go r.watchDNS()
	}
	r.ready.Store(true)
	go r.watchOwnership()
	if r.own.Changes() != nil || restored != nil { // shared with other replicas, or not read yet
		go r.watchMaintenance()
	}
	if w, ok := r.opts.Journal.(journal.SlotWatcher); ok {
		go r.watchSlots(w)
	}
	if _, ok := r.history(); ok {
		go r.pruneLoop()
	}
	return nil
}

// Shutdown stops the pipelines: each returns at its next journaled point or
// when ctx ends, leaving the incident to resume on the next start.
func (r *Receiver) Shutdown(ctx context.Context) error {
	r.ready.Store(false)
	r.cancel()
	done := make(chan struct{})
	go func() { r.store.runners.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pipelines still running at shutdown: %w", ctx.Err())
	}
}

// Wait blocks until every pipeline goroutine has returned (tests use it).
func (r *Receiver) Wait() { r.store.runners.Wait() }
