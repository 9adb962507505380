package receiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
	"github.com/vcrcovery/vcrcovery/receiver/ownership"
	"github.com/vcrcovery/vcrcovery/receiver/pipeline"
)

// store is the receiver's memory of incidents, kept beside the journal that
// holds all of them: the incidents this replica holds (runs, or keeps until
// an operator acknowledges them), the service each one holds, the services
// whose incident another replica runs, where each service runs, and the
// maintenance windows that keep services from recovering automatically.
//
// One mutex guards it all. Mapping an alert to a service and opening or
// joining that service's incident happen under it (see locked), so a storm
// of concurrent deliveries opens exactly one incident; journal writes happen
// after it is released so concurrent requests share an fsync.
type store struct {
	own      ownership.Ownership
	pipeline *pipeline.Pipeline
	runners  sync.WaitGroup // one per running pipeline
	m        *metrics
	log      *slog.Logger

	mu        sync.Mutex
	incidents map[string]*memIncident // held incidents by ID
	open      map[string]string       // service -> held incident ID
	remote    map[string]string       // service -> incident another replica runs
	services  map[string]*serviceState
	windows   map[string]*api.Maintenance // maintenance windows by ID (maintenance.go)
	// session is the context this replica's runners run under; it ends
	// when the replica loses every incident at once (its lease expired).
	parent     context.Context
	session    context.Context
	endSession context.CancelFunc
}

type memIncident struct {
	inc     api.Incident
	running bool // a runner holds a handle on it
	// claimed is non-nil while the delivery that opened the incident is
	// still claiming the service's slot in the journal; it is closed when
	// that ends. Deliveries joining it meanwhile wait for it, since their
	// writes are fenced on an ownership that does not exist yet.
	claimed chan struct{}
}

// serviceState is where a service runs, derived from its last completed
// recovery.
type serviceState struct {
	location   string
	address    string
	lastClosed time.Time
	// closedRev (shared journal) is the revision of the service's last
	// close that location reflects; opening an incident requires it current.
	closedRev int64
}

// newStore builds an empty store whose runners run p, in sessions that end
// with parent.
func newStore(parent context.Context, own ownership.Ownership, p *pipeline.Pipeline, m *metrics, log *slog.Logger) *store {
	s := &store{own: own, pipeline: p, m: m, log: log, parent: parent,
		incidents: map[string]*memIncident{}, open: map[string]string{}, remote: map[string]string{}, services: map[string]*serviceState{}}
	s.session, s.endSession = context.WithCancel(parent)
	return s
}

// locked runs fn under the store's mutex, for decisions that must see and
// change the store at once (routing an alert, opening a manual run). fn
// uses the *Locked methods and must not block.
func (s *store) locked(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn()
	s.m.incidentsOpen.Set(float64(len(s.open)))
}

// stateLocked returns where a service runs.
func (s *store) stateLocked(service string) *serviceState {
	st := s.services[service]
	if st == nil {
		st = &serviceState{location: api.LocationPrimary}
		s.services[service] = st
	}
	return st
}

// heldLocked returns the incident this replica holds for a service (nil:
// none).
func (s *store) heldLocked(service string) *memIncident {
	if id, ok := s.open[service]; ok {
		return s.incidents[id]
	}
	return nil
}

// incidentLocked returns a held incident by ID (nil: not held here).
func (s *store) incidentLocked(id string) *memIncident { return s.incidents[id] }

// remoteLocked returns the incident another replica runs for a service
// (empty: none known).
func (s *store) remoteLocked(service string) string { return s.remote[service] }

// holdLocked makes a new incident the one holding its service.
func (s *store) holdLocked(inc api.Incident) *memIncident {
	mi := &memIncident{inc: inc}
	s.incidents[inc.ID] = mi
	s.open[inc.Service] = inc.ID
	return mi
}

func (s *store) applyLocationLocked(inc *api.Incident) {
	st := s.stateLocked(inc.Service)
	if inc.ClosedAt != nil {
		st.lastClosed = *inc.ClosedAt
	}
	if inc.DNS == nil || inc.DNS.SwitchedAt == nil {
		return
	}
	switch inc.Kind {
	case api.KindFailover, api.KindManualFailover, api.KindDrill:
		st.location = api.LocationStandby
	case api.KindScaleUp:
		st.location = api.LocationBiggerVM
	case api.KindFailback:
		st.location = api.LocationPrimary
	}
	if inc.Endpoint != nil {
		st.address = inc.Endpoint.Address
	}
}

// commit writes b with claims through the ownership seam, timing the write.
func (s *store) commit(ctx context.Context, b journal.Batch, claims []journal.Claim) error {
	start := time.Now()
	err := s.own.Commit(ctx, b, claims)
	s.observeWrite(start, err)
	return err
}

// commitUnheld writes a snapshot of an incident this replica does not hold.
func (s *store) commitUnheld(ctx context.Context, inc api.Incident) error {
	start := time.Now()
	err := s.own.CommitUnheld(ctx, inc)
	s.observeWrite(start, err)
	return err
}

// observeWrite times a journal write and counts it when it failed. A claim
// conflict and a lost ownership are answers about who may act, not failed
// writes, and a cancelled caller (a shutdown) is no fault of the journal.
func (s *store) observeWrite(start time.Time, err error) {
	s.m.journalWrite.Observe(time.Since(start).Seconds())
	var conflict *journal.ConflictError
	if err != nil && !errors.As(err, &conflict) && !errors.Is(err, ErrNotOwner) && !errors.Is(err, context.Canceled) {
		s.m.journalWriteErrors.Inc()
	}
}

// settleOpened ends the claims of incidents a delivery opened: kept if the
// write succeeded, forgotten otherwise; either way their waiters wake.
func (s *store) settleOpened(ids []string, ok bool) {
	if !ok {
		s.dropOpened(ids)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if mi := s.incidents[id]; mi != nil && mi.claimed != nil {
			close(mi.claimed)
			mi.claimed = nil
		}
	}
}

// waitClaims waits until the deliveries that opened these incidents have
// claimed them; it fails if one of them could not.
func (s *store) waitClaims(ctx context.Context, wait map[string]chan struct{}) error {
	for id, ch := range wait {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !s.holds(id) {
			return fmt.Errorf("incident %s could not be opened; routing again", id)
		}
	}
	return nil
}

// dropOpened forgets incidents whose opening was not journaled: their slot
// was never claimed, so they must not linger and be joined.
func (s *store) dropOpened(ids []string) {
	s.locked(func() {
		for _, id := range ids {
			if mi := s.incidents[id]; mi != nil {
				delete(s.incidents, id)
				if s.open[mi.inc.Service] == id {
					delete(s.open, mi.inc.Service)
				}
				if mi.claimed != nil {
					close(mi.claimed)
					mi.claimed = nil
				}
			}
		}
	})
}

// closedBefore says whether the service's last close this replica knows
// is older than rev.
func (s *store) closedBefore(service string, rev int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return rev > s.stateLocked(service).closedRev
}

// learn applies what a failed claim (or the slot watch) revealed about a
// service: the incident holding its slot, and its last close.
func (s *store) learn(c *journal.ConflictError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.stateLocked(c.Service); c.ClosedRev > st.closedRev {
		st.closedRev = c.ClosedRev
		if c.Closed != nil && c.Closed.State == api.StateResolved {
			s.applyLocationLocked(c.Closed)
		} else if c.Closed != nil && c.Closed.ClosedAt != nil {
			st.lastClosed = *c.Closed.ClosedAt
		}
	}
	switch {
	case c.Holder == "":
		delete(s.remote, c.Service)
	case s.incidents[c.Holder] == nil:
		s.remote[c.Service] = c.Holder
	}
}

// start hands a held, running incident that has no runner yet to a new
// runner: one goroutine per incident, running package pipeline under this
// replica's current session. The runner's identity is the handle it gets.
func (s *store) start(id string) {
	s.mu.Lock()
	mi := s.incidents[id]
	if mi == nil || mi.running || !mi.inc.State.Running() || s.session.Err() != nil {
		s.mu.Unlock()
		return
	}
	mi.running = true
	s.runners.Add(1)
	session := s.session
	s.mu.Unlock()
	go func() {
		defer s.runners.Done()
		defer func() {
			s.mu.Lock()
			mi.running = false
			s.mu.Unlock()
		}()
		s.pipeline.Run(session, &held{s: s, id: id, mi: mi})
	}()
}

// held is a runner's handle on its incident (pipeline.Held). It remembers
// the in-memory incident it was given, so a runner left over from a lost
// lease cannot write through a later adoption of the same incident.
type held struct {
	s  *store
	id string
	mi *memIncident
}

var _ pipeline.Held = (*held)(nil)

func (h *held) ID() string                     { return h.id }
func (h *held) Snapshot() (api.Incident, bool) { return h.s.snapshot(h.id) }
func (h *held) Release()                       { h.s.release(h.id, h.mi) }

func (h *held) Update(ctx context.Context, events []journal.Event, fn func(inc *api.Incident)) (api.Incident, error) {
	return h.s.update(ctx, h.id, h.mi, events, fn)
}

// snapshot returns a copy of a held incident.
func (s *store) snapshot(id string) (api.Incident, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mi := s.incidents[id]
	if mi == nil {
		return api.Incident{}, false
	}
	return clone(mi.inc), true
}

// update changes a held incident under mu, bumps its revision and journals
// the new snapshot before returning it. The journal keeps the highest
// revision, so concurrent updates cannot roll each other back. runner, when
// not nil, is the copy a runner's handle was given: if the incident was
// adopted again since, the write fails with ErrNotOwner.
func (s *store) update(ctx context.Context, id string, runner *memIncident, events []journal.Event, fn func(inc *api.Incident)) (api.Incident, error) {
	s.mu.Lock()
	mi := s.incidents[id]
	if mi == nil {
		s.mu.Unlock()
		return api.Incident{}, fmt.Errorf("incident %s is not held by this replica: %w", id, ErrNotOwner)
	}
	if runner != nil && runner != mi {
		// The runner ran the incident under an earlier lease; the incident
		// was adopted again since, and another runner owns it.
		s.mu.Unlock()
		return api.Incident{}, fmt.Errorf("incident %s was adopted again since this pipeline started: %w", id, ErrNotOwner)
	}
	fn(&mi.inc)
	mi.inc.Revision++
	snap := clone(mi.inc)
	if !snap.State.Holds() {
		delete(s.incidents, id)
		if s.open[snap.Service] == id {
			delete(s.open, snap.Service)
		}
		if snap.State == api.StateResolved {
			s.applyLocationLocked(&snap)
		} else if snap.ClosedAt != nil {
			s.stateLocked(snap.Service).lastClosed = *snap.ClosedAt
		}
		s.m.incidentsOpen.Set(float64(len(s.open)))
	}
	s.mu.Unlock()
	if err := s.commit(ctx, journal.Batch{Events: events, Incidents: []api.Incident{snap}}, nil); err != nil {
		return snap, err
	}
	return snap, nil
}

// release forgets an incident this replica no longer owns, unless it was
// adopted again since mi was handed out: then the new runner keeps it.
func (s *store) release(id string, mi *memIncident) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.incidents[id]; cur == nil || cur != mi {
		return
	}
	delete(s.incidents, id)
	if s.open[mi.inc.Service] == id {
		delete(s.open, mi.inc.Service)
	}
	s.remote[mi.inc.Service] = id
	s.m.incidentsOpen.Set(float64(len(s.open)))
}

// loseAll forgets every held incident at once, since this replica's lease
// is gone and other replicas may already run them: it ends their runners'
// session and starts a new one for the incidents adopted from now on.
func (s *store) loseAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endSession()
	for id, mi := range s.incidents {
		s.remote[mi.inc.Service] = id
	}
	clear(s.incidents)
	clear(s.open)
	s.m.incidentsOpen.Set(0)
	s.session, s.endSession = context.WithCancel(s.parent)
}

// adopted holds an incident this replica just adopted; false if it already
// held it.
func (s *store) adopted(inc api.Incident) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, mine := s.incidents[inc.ID]; mine {
		return false
	}
	s.holdLocked(inc)
	if s.remote[inc.Service] == inc.ID {
		delete(s.remote, inc.Service)
	}
	s.m.incidentsOpen.Set(float64(len(s.open)))
	return true
}

// holds says whether this replica holds the incident.
func (s *store) holds(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.incidents[id]
	return ok
}

// openIDs lists the incidents holding their service: the ones held here
// and the ones other replicas run.
func (s *store) openIDs() (held, remote []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.open {
		held = append(held, id)
	}
	for _, id := range s.remote {
		remote = append(remote, id)
	}
	return held, remote
}

// count is the number of incidents this replica holds.
func (s *store) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.incidents)
}

// load restores the store from the journal's incidents (newest first): where
// each service runs, and which incidents hold their service, here or on
// another replica. It returns the held incidents whose pipeline had not
// finished.
func (s *store) load(incs []api.Incident) (resume []string) {
	s.locked(func() {
		// Oldest first, so the newest completed recovery decides the location.
		for i := len(incs) - 1; i >= 0; i-- {
			inc := incs[i]
			if inc.State == api.StateResolved {
				s.applyLocationLocked(&inc)
			}
			if !inc.State.Holds() {
				continue
			}
			if !s.own.OwnsAtStart(inc) {
				s.remote[inc.Service] = inc.ID
				continue
			}
			if other, ok := s.open[inc.Service]; ok {
				s.log.Warn("journal holds two open incidents for one service; keeping the older", "service", inc.Service, "kept", other, "ignored", inc.ID)
				continue
			}
			s.holdLocked(inc)
			if inc.State.Running() {
				resume = append(resume, inc.ID)
			}
		}
	})
	return resume
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
