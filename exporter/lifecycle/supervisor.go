package lifecycle

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
)

// Backoff bounds for reconnecting to libvirtd.
const (
	reconnectMin = 100 * time.Millisecond
	reconnectMax = 5 * time.Second
)

// Supervisor keeps one connection to libvirtd open: it dials, subscribes to
// lifecycle events, hands every event to its Tracker, and after a loss dials
// again with exponential backoff until ctx ends. Scrapes borrow the current
// connection; while there is none they report vcr_libvirt_up 0.
type Supervisor struct {
	dial    Dialer
	logger  *slog.Logger
	onEvent func(libvirt.DomainEventLifecycleMsg)
	// onConnect runs after each successful subscription, before events are
	// read; the tracker uses it to reconcile what it missed.
	onConnect func(ctx context.Context, c Client)
	// onTick runs every tickEvery while connected, on a goroutine of its
	// own (one at a time), so that a slow libvirtd never holds up events;
	// the tracker sweeps vanished failures with it.
	onTick    func(ctx context.Context, c Client)
	tickEvery time.Duration
	ticking   atomic.Bool

	mu     sync.RWMutex
	client Client

	connects   atomic.Uint64 // successful connections, the first included
	subscribed atomic.Bool
	connected  chan struct{} // closed at the first successful connection
	once       sync.Once
}

// NewSupervisor dials with dial and hands events to t (nil: none, for a
// supervisor that only lends its connection); Run starts it.
func NewSupervisor(dial Dialer, t *Tracker, logger *slog.Logger) *Supervisor {
	s := &Supervisor{dial: dial, logger: logger, connected: make(chan struct{})}
	if t != nil {
		s.onEvent, s.onConnect = t.handle, t.reconcile
		s.onTick, s.tickEvery = t.sweep, t.sweepEvery()
	}
	return s
}

// Current is the open connection, or nil while there is none.
func (s *Supervisor) Current() Client {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.client
}

func (s *Supervisor) set(c Client) {
	s.mu.Lock()
	s.client = c
	s.mu.Unlock()
}

// Run blocks until ctx ends, then disconnects.
func (s *Supervisor) Run(ctx context.Context) {
	delay := reconnectMin
	failures := 0
	for ctx.Err() == nil {
		c, err := s.dial(ctx)
		if err != nil {
			failures++
			// Log the first failure loudly and the rest quietly: libvirtd
			// may be down for minutes and the log should not drown.
			if failures == 1 {
				s.logger.Warn("libvirt unreachable; retrying with backoff", "err", err)
			} else {
				s.logger.Debug("libvirt still unreachable", "attempt", failures, "retry_in", delay, "err", err)
			}
			if !sleepCtx(ctx, delay) {
				return
			}
			delay = min(2*delay, reconnectMax)
			continue
		}
		if failures > 0 || s.connects.Load() > 0 {
			s.logger.Info("reconnected to libvirt", "after_failures", failures)
		}
		failures = 0
		if s.serve(ctx, c) {
			delay = reconnectMin
		} else if !sleepCtx(ctx, delay) {
			return
		} else {
			delay = min(2*delay, reconnectMax)
		}
	}
}

// serve subscribes to lifecycle events on c and forwards them until the
// connection or ctx ends. It reports whether the subscription worked.
func (s *Supervisor) serve(ctx context.Context, c Client) bool {
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := c.LifecycleEvents(subCtx)
	if err != nil {
		s.logger.Warn("subscribe to libvirt lifecycle events failed; reconnecting", "err", err)
		_ = c.Disconnect()
		return false
	}
	s.set(c)
	s.subscribed.Store(true)
	s.connects.Add(1)
	s.once.Do(func() { close(s.connected) })
	if s.onConnect != nil {
		s.onConnect(ctx, c)
	}
	defer func() {
		s.subscribed.Store(false)
		s.set(nil)
	}()
	var tick <-chan time.Time
	if s.onTick != nil {
		t := time.NewTicker(s.tickEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			if s.ticking.CompareAndSwap(false, true) {
				go func() {
					defer s.ticking.Store(false)
					s.onTick(subCtx, c)
				}()
			}
		case ev, ok := <-events:
			if !ok {
				s.logger.Warn("libvirt event stream closed; reconnecting")
				_ = c.Disconnect()
				return true
			}
			if s.onEvent != nil {
				s.onEvent(ev)
			}
		case <-c.Disconnected():
			s.logger.Warn("lost connection to libvirt; reconnecting")
			return true
		case <-ctx.Done():
			cancel()
			_ = c.Disconnect()
			return true
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Connected is closed at the first successful connection.
func (s *Supervisor) Connected() <-chan struct{} { return s.connected }

// Subscribed reports whether lifecycle events are followed right now.
func (s *Supervisor) Subscribed() bool { return s.subscribed.Load() }

// Connects counts successful connections, the first included.
func (s *Supervisor) Connects() uint64 { return s.connects.Load() }
