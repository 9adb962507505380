package datasync

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// stepTimeout bounds one attempt of a kind: a hung side must not stop the
// loop forever. A database attempt may include seeding.
var stepTimeout = map[string]time.Duration{
	KindDatabase: 10 * time.Minute,
	KindFiles:    30 * time.Minute,
	KindBackup:   2 * time.Hour,
}

// Daemon keeps every configured service's data in sync and offers the
// operations a recovery needs, as Go calls and over HTTP (Handler).
type Daemon struct {
	cfg     *Config
	log     *slog.Logger
	m       *metrics
	pools   *pools
	runners map[string]*runner
	ready   atomic.Bool
}

// New builds a daemon from a prepared configuration (LoadConfig).
func New(cfg *Config, log *slog.Logger) *Daemon {
	d := &Daemon{cfg: cfg, log: log, m: newMetrics(), pools: &pools{cfg: cfg.MySQL}, runners: map[string]*runner{}}
	for i := range cfg.Services {
		s := &cfg.Services[i]
		d.runners[s.Name] = newRunner(cfg, s, d.pools, d.m, log)
	}
	return d
}

// Run runs every service's loops until ctx ends, then waits for attempts in
// flight to stop.
func (d *Daemon) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, r := range d.runners {
		for _, kind := range r.svc.Kinds() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.loop(ctx, r, kind)
			}()
		}
	}
	d.ready.Store(true)
	<-ctx.Done()
	d.ready.Store(false)
	wg.Wait()
	d.pools.close()
}

// loop runs one kind of one service: at once, then every interval. Backups
// wait until the newest one is interval old, so a restart does not take an
// extra one.
func (d *Daemon) loop(ctx context.Context, r *runner, kind string) {
	interval := r.svc.Database.HeartbeatInterval
	switch kind {
	case KindFiles:
		interval = r.svc.Sync.Interval
	case KindBackup:
		interval = r.svc.Backup.Interval
	}
	wait := time.Duration(0)
	if kind == KindBackup {
		r.mu.Lock()
		last := r.st.LastSuccess[KindBackup]
		r.mu.Unlock()
		wait = max(0, time.Until(last.Add(interval)))
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		sctx, cancel := context.WithTimeout(ctx, stepTimeout[kind])
		_ = r.Step(sctx, kind) // recorded in metrics, status and the log
		cancel()
		wait = interval
	}
}

func (d *Daemon) runner(service string) (*runner, error) {
	r, ok := d.runners[service]
	if !ok {
		return nil, fmt.Errorf("%w %q: configured are %v", ErrUnknownService, service, d.names())
	}
	return r, nil
}

func (d *Daemon) names() []string {
	var n []string
	for k := range d.runners {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Promote makes the service's standby its primary (see runner.Promote).
func (d *Daemon) Promote(ctx context.Context, service string) (PromoteResult, error) {
	r, err := d.runner(service)
	if err != nil {
		return PromoteResult{}, err
	}
	return r.Promote(ctx)
}

// Reverse makes the old primary follow the standby before a failback.
func (d *Daemon) Reverse(ctx context.Context, service string) (ReverseResult, error) {
	r, err := d.runner(service)
	if err != nil {
		return ReverseResult{}, err
	}
	return r.Reverse(ctx)
}

// Resume hands the service back to its primary after a failback.
func (d *Daemon) Resume(ctx context.Context, service string) (ResumeResult, error) {
	r, err := d.runner(service)
	if err != nil {
		return ResumeResult{}, err
	}
	return r.Resume(ctx)
}

// Reseed copies the primary's MariaDB onto the standby again.
func (d *Daemon) Reseed(ctx context.Context, service string) (int64, error) {
	r, err := d.runner(service)
	if err != nil {
		return 0, err
	}
	return r.Reseed(ctx)
}

// Sync runs one attempt of kind for service now and returns its status.
func (d *Daemon) Sync(ctx context.Context, service, kind string) (KindStatus, error) {
	r, err := d.runner(service)
	if err != nil {
		return KindStatus{}, err
	}
	err = r.Step(ctx, kind)
	return r.Status().Kinds[kind], err
}

// Status lists every service's status, by name.
func (d *Daemon) Status() []ServiceStatus {
	var out []ServiceStatus
	for _, n := range d.names() {
		out = append(out, d.runners[n].Status())
	}
	return out
}
