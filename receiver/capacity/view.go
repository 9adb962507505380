package capacity

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
)

// Defaults of Options.
const (
	// DefaultMaxAge is how long an answer is served before the standbys are
	// read again; a scrape and a page load within it share one reading.
	DefaultMaxAge = 10 * time.Second
	// measuredMaxAge is how long measured per-strategy figures are kept:
	// they change only when recoveries complete.
	measuredMaxAge = time.Minute
	// readTimeout bounds reading one remote.
	readTimeout = 5 * time.Second
)

// Reader reads what a remote's machine has and what its instances are
// promised.
type Reader interface {
	Allocation(ctx context.Context, remote string) (*lxd.Allocation, error)
}

// Options are the view's collaborators.
type Options struct {
	// Config is the configuration in use, read at every computation.
	Config func() *config.Config
	// Reader reads the remotes; nil means LXD itself, through the
	// configuration's lxd_remotes.
	Reader Reader
	// Incidents gives recent incidents, newest first, for measured
	// per-strategy figures; nil means the documented ones.
	Incidents func(ctx context.Context) ([]api.Incident, error)
	// Concurrency is how many prepares the receiver runs on one remote at
	// once; nil means one.
	Concurrency func(remote string) int
	MaxAge      time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
}

// View computes the pre-flight answer and serves it.
type View struct {
	opts Options

	mu         sync.Mutex
	last       *api.Capacity
	seconds    map[string]float64
	secondsAt  time.Time
	computedAt time.Time
}

// New returns a view; it reads nothing until asked.
func New(opts Options) *View {
	if opts.Reader == nil {
		opts.Reader = NewLXDReader(func() map[string]config.LXDRemote { return opts.Config().LXDRemotes })
	}
	if opts.MaxAge == 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &View{opts: opts}
}

// Capacity returns the answer, computed afresh when the last one is older
// than MaxAge. A remote that cannot be read makes the scopes that need it
// answer no, with the reason; it never fails the call.
func (v *View) Capacity(ctx context.Context) api.Capacity {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.opts.Now()
	if v.last != nil && now.Sub(v.computedAt) < v.opts.MaxAge {
		return *v.last
	}
	cfg := v.opts.Config()
	in := Input{Config: cfg, Allocations: map[string]*lxd.Allocation{}, Errors: map[string]error{},
		Seconds: v.measured(ctx, now), Concurrency: v.opts.Concurrency, Now: now}
	names := make([]string, 0, len(cfg.LXDRemotes))
	for n := range cfg.LXDRemotes {
		names = append(names, n)
	}
	sort.Strings(names)
	var wg sync.WaitGroup
	var rmu sync.Mutex
	for _, n := range names {
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, readTimeout)
			defer cancel()
			a, err := v.opts.Reader.Allocation(rctx, n)
			rmu.Lock()
			defer rmu.Unlock()
			if err != nil {
				in.Errors[n] = err
				return
			}
			in.Allocations[n] = a
		})
	}
	wg.Wait()
	c := Compute(in)
	v.last, v.computedAt = &c, now
	return c
}

// measured returns the per-strategy figures, read from incidents at most
// once a minute.
func (v *View) measured(ctx context.Context, now time.Time) map[string]float64 {
	if v.seconds != nil && now.Sub(v.secondsAt) < measuredMaxAge {
		return v.seconds
	}
	var incs []api.Incident
	if v.opts.Incidents != nil {
		var err error
		if incs, err = v.opts.Incidents(ctx); err != nil {
			v.opts.Logger.Warn("capacity: cannot read incidents for measured recovery times; using the documented figures", "err", err)
		}
	}
	v.seconds, v.secondsAt = SecondsPerService(incs), now
	return v.seconds
}

// ServeHTTP serves the answer as JSON (GET /api/v1/capacity).
func (v *View) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := v.Capacity(r.Context())
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(c); err != nil {
		v.opts.Logger.Warn("capacity: write answer", "err", err)
	}
}

// LXDReader reads remotes through LXD, keeping one client per remote
// configuration.
type LXDReader struct {
	remotes func() map[string]config.LXDRemote

	mu      sync.Mutex
	clients map[config.LXDRemote]*lxd.Client
}

// NewLXDReader reads the remotes remotes returns (the configuration's
// lxd_remotes, which a reload may change).
func NewLXDReader(remotes func() map[string]config.LXDRemote) *LXDReader {
	return &LXDReader{remotes: remotes, clients: map[config.LXDRemote]*lxd.Client{}}
}

// Allocation implements Reader.
func (r *LXDReader) Allocation(ctx context.Context, name string) (*lxd.Allocation, error) {
	rc, ok := r.remotes()[name]
	if !ok {
		return nil, fmt.Errorf("remote %q is not in lxd_remotes", name)
	}
	r.mu.Lock()
	c := r.clients[rc]
	r.mu.Unlock()
	if c == nil {
		var err error
		c, err = lxd.Connect(ctx, lxd.Config{Socket: rc.Socket, URL: rc.URL, ClientCert: rc.ClientCert, ClientKey: rc.ClientKey, ServerCert: rc.ServerCert, Timeout: readTimeout})
		if err != nil {
			return nil, fmt.Errorf("cannot reach LXD %q: %w", name, err)
		}
		r.mu.Lock()
		r.clients[rc] = c
		r.mu.Unlock()
	}
	a, err := c.Allocation(ctx)
	if err != nil {
		r.mu.Lock()
		delete(r.clients, rc) // reconnect next time
		r.mu.Unlock()
		return nil, fmt.Errorf("cannot read LXD %q: %w", name, err)
	}
	return a, nil
}
