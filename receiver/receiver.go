// Package receiver is vcr-receiver's core: the Alertmanager webhook that
// journals alerts and opens at most one incident per service, the recovery
// pipeline (fence, prepare, verify, switch, finalize) that runs each incident
// and resumes it after a restart, and the HTTP API that shows them.
package receiver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
	"github.com/vcrcovery/vcrcovery/receiver/ownership"
)

// Options are the receiver's collaborators. Journal and Config are
// required; nil Fencer, Strategies, Prober or DNS make the phases that need
// them fail with a clear error.
type Options struct {
	Config     *config.Config
	Journal    journal.Journal
	Fencer     Fencer
	Strategies Strategies
	Prober     Prober
	DNS        DNS
	Logger     *slog.Logger
	Registry   prometheus.Registerer
	Clock      Clock
}

// Receiver holds the open incidents in memory (the journal holds all of
// them) and runs one pipeline goroutine per running incident.
type Receiver struct {
	opts  Options
	cfg   atomic.Pointer[config.Config]
	log   *slog.Logger
	clock Clock
	m     *metrics

	// mu guards the in-memory state below. Mapping an alert to a service and
	// opening or joining that service's incident happen under mu, so a storm
	// of concurrent deliveries opens exactly one incident; the journal write
	// happens after mu is released so concurrent requests share an fsync.
	mu        sync.Mutex
	incidents map[string]*memIncident // held incidents by ID
	open      map[string]string       // service -> held incident ID
	services  map[string]*serviceState

	ctx     context.Context
	cancel  context.CancelFunc
	runners sync.WaitGroup
	ready   atomic.Bool

	// own decides who may act. incidents and open hold only the incidents
	// this replica owns; remote names the incidents other replicas run, by
	// service (always empty with a local journal).
	own       ownership.Ownership
	remote    map[string]string
	runCtx    context.Context // cancelled when this replica loses its session
	runCancel context.CancelFunc
}

type memIncident struct {
	inc     api.Incident
	running bool // a pipeline goroutine owns it
	// claimed is non-nil while the delivery that opened the
	// incident is still claiming the service's slot in etcd; it is closed
	// when that ends. Deliveries joining it meanwhile wait for it, since
	// their writes are fenced on an ownership that does not exist yet.
	claimed chan struct{}
}

// serviceState is where a service runs, derived from its last completed
// recovery.
type serviceState struct {
	location   string
	address    string
	lastClosed time.Time
	// closedRev (shared journal) is the etcd revision of the service's last close
	// that location reflects; opening an incident requires it current.
	closedRev int64
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
		opts.Clock = realClock{}
	}
	r := &Receiver{
		opts:      opts,
		log:       opts.Logger,
		clock:     opts.Clock,
		m:         newMetrics(opts.Registry),
		incidents: map[string]*memIncident{},
		open:      map[string]string{},
		services:  map[string]*serviceState{},
		remote:    map[string]string{},
	}
	r.own = ownership.New(opts.Journal, opts.Registry, func() int {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.incidents)
	})
	r.cfg.Store(opts.Config)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.runCtx, r.runCancel = context.WithCancel(r.ctx)
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
	var resume []string
	r.mu.Lock()
	// Oldest first, so the newest completed recovery decides the location.
	for i := len(incs) - 1; i >= 0; i-- {
		inc := incs[i]
		if inc.State == api.StateResolved {
			r.applyLocationLocked(&inc)
		}
		if !inc.State.Holds() {
			continue
		}
		if !r.own.OwnsAtStart(inc) {
			r.remote[inc.Service] = inc.ID
			continue
		}
		if other, ok := r.open[inc.Service]; ok {
			r.log.Warn("journal holds two open incidents for one service; keeping the older", "service", inc.Service, "kept", other, "ignored", inc.ID)
			continue
		}
		r.incidents[inc.ID] = &memIncident{inc: inc}
		r.open[inc.Service] = inc.ID
		if inc.State.Running() {
			resume = append(resume, inc.ID)
		}
	}
	r.m.incidentsOpen.Set(float64(len(r.open)))
	r.mu.Unlock()
	for _, id := range resume {
		r.log.Info("resuming incident after restart", "incident", id)
		r.startRunner(id)
	}
	r.adoptOrphans()
	r.ready.Store(true)
	go r.watchOwnership()
	return nil
}

// Shutdown stops the pipelines: each returns at its next journaled point or
// when ctx ends, leaving the incident to resume on the next start.
func (r *Receiver) Shutdown(ctx context.Context) error {
	r.ready.Store(false)
	r.cancel()
	done := make(chan struct{})
	go func() { r.runners.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pipelines still running at shutdown: %w", ctx.Err())
	}
}

// Wait blocks until every pipeline goroutine has returned (tests use it).
func (r *Receiver) Wait() { r.runners.Wait() }

func (r *Receiver) stateLocked(service string) *serviceState {
	s := r.services[service]
	if s == nil {
		s = &serviceState{location: api.LocationPrimary}
		r.services[service] = s
	}
	return s
}

func (r *Receiver) applyLocationLocked(inc *api.Incident) {
	s := r.stateLocked(inc.Service)
	if inc.ClosedAt != nil {
		s.lastClosed = *inc.ClosedAt
	}
	if inc.DNS == nil || inc.DNS.SwitchedAt == nil {
		return
	}
	switch inc.Kind {
	case api.KindFailover, api.KindDrill:
		s.location = api.LocationStandby
	case api.KindScaleUp:
		s.location = api.LocationBiggerVM
	case api.KindFailback:
		s.location = api.LocationPrimary
	}
	if inc.Endpoint != nil {
		s.address = inc.Endpoint.Address
	}
}

// runnerKey marks a pipeline's context with the in-memory incident it was
// started for, so a runner left over from a lost lease cannot write through
// a later adoption of the same incident.
type runnerKey struct{}

func newIncidentID(now time.Time, service string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%s-%s", now.UTC().Format("20060102-150405"), service, hex.EncodeToString(b[:]))
}

// clone deep-copies an incident so a snapshot can be journaled or served
// while the pipeline keeps changing the original.
func clone(in api.Incident) api.Incident {
	out := in
	out.Labels = maps.Clone(in.Labels)
	out.Alerts.BySource = maps.Clone(in.Alerts.BySource)
	if in.Phases != nil {
		out.Phases = make([]api.Phase, len(in.Phases))
		for i, p := range in.Phases {
			p.Messages = append([]string(nil), p.Messages...)
			out.Phases[i] = p
		}
	}
	if in.Endpoint != nil {
		ep := *in.Endpoint
		ep.Details = maps.Clone(in.Endpoint.Details)
		out.Endpoint = &ep
	}
	if in.DNS != nil {
		d := *in.DNS
		d.Before = append([]string(nil), in.DNS.Before...)
		d.After = append([]string(nil), in.DNS.After...)
		out.DNS = &d
	}
	return out
}

// update changes a held incident under mu, bumps its revision and journals
// the new snapshot before returning it. The journal keeps the highest
// revision, so concurrent updates cannot roll each other back.
func (r *Receiver) update(ctx context.Context, id string, events []journal.Event, fn func(inc *api.Incident)) (api.Incident, error) {
	r.mu.Lock()
	mi := r.incidents[id]
	if mi == nil {
		r.mu.Unlock()
		return api.Incident{}, fmt.Errorf("incident %s is not held by this replica: %w", id, ownership.ErrNotOwner)
	}
	if own, ok := ctx.Value(runnerKey{}).(*memIncident); ok && own != mi {
		// This pipeline ran the incident under an earlier lease; the
		// incident was adopted again since, and another runner owns it.
		r.mu.Unlock()
		return api.Incident{}, fmt.Errorf("incident %s was adopted again since this pipeline started: %w", id, ownership.ErrNotOwner)
	}
	fn(&mi.inc)
	mi.inc.Revision++
	snap := clone(mi.inc)
	if !snap.State.Holds() {
		delete(r.incidents, id)
		if r.open[snap.Service] == id {
			delete(r.open, snap.Service)
		}
		if snap.State == api.StateResolved {
			r.applyLocationLocked(&snap)
		} else if snap.ClosedAt != nil {
			r.stateLocked(snap.Service).lastClosed = *snap.ClosedAt
		}
		r.m.incidentsOpen.Set(float64(len(r.open)))
	}
	r.mu.Unlock()
	if err := r.commit(ctx, journal.Batch{Events: events, Incidents: []api.Incident{snap}}, nil); err != nil {
		return snap, err
	}
	return snap, nil
}

// commit writes b with claims through the ownership seam, timing the write.
func (r *Receiver) commit(ctx context.Context, b journal.Batch, claims []journal.Claim) error {
	start := time.Now()
	err := r.own.Commit(ctx, b, claims)
	r.m.journalWrite.Observe(time.Since(start).Seconds())
	return err
}

// snapshot returns a copy of a held incident.
func (r *Receiver) snapshot(id string) (api.Incident, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	mi := r.incidents[id]
	if mi == nil {
		return api.Incident{}, false
	}
	return clone(mi.inc), true
}

// startRunner starts the pipeline of a held incident unless one runs.
func (r *Receiver) startRunner(id string) {
	r.mu.Lock()
	mi := r.incidents[id]
	if mi == nil || mi.running || !mi.inc.State.Running() || r.ctx.Err() != nil {
		r.mu.Unlock()
		return
	}
	mi.running = true
	r.runners.Add(1)
	ctx := context.WithValue(r.runCtx, runnerKey{}, mi)
	r.mu.Unlock()
	go func() {
		defer r.runners.Done()
		defer func() {
			r.mu.Lock()
			mi.running = false
			r.mu.Unlock()
		}()
		r.run(ctx, id)
	}()
}
