// Package pipeline recovers one incident: a runner walks the incident's
// stages (fence, prepare, verify, switch, finalize), journals each phase's
// start and end through the incident's handle, retries a failing stage with
// backoff, and closes the incident. A recovery that cannot complete (a stage
// failed for good, or an operator cancelled it) is undone by the abort
// stage before the incident closes as failed. It is built like
// Alertmanager's notify package: a stage is a value with an Exec method, and
// each incident kind has its list of stages (Stages).
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
	"github.com/vcrcovery/vcrcovery/receiver/ownership"
)

// maxNotesPerAttempt bounds the messages one stage attempt keeps.
const maxNotesPerAttempt = 100

// Held is a runner's handle on the one incident it runs, given by the
// receiver's incident store when the runner starts. Update journals a change
// before returning it. Once the incident left this replica or was adopted
// again (by a later runner), Update fails with ownership.ErrNotOwner, so a
// runner left over from a lost lease can never write through the new one.
type Held interface {
	ID() string
	// Snapshot returns the incident as this replica holds it now; false
	// when it holds it no longer.
	Snapshot() (api.Incident, bool)
	// Update changes the incident with fn, journals the new snapshot (and
	// events) and returns it.
	Update(ctx context.Context, events []journal.Event, fn func(inc *api.Incident)) (api.Incident, error)
	// Release hands the incident back: this replica stops holding it, and
	// whoever owns it (this replica again, after adopting it) resumes it.
	Release()
}

// Stage is one phase of a recovery.
type Stage interface {
	// Phase is the name the incident records it under (api.PhaseFence...).
	Phase() string
	// State is the incident's state while the stage runs.
	State() api.State
	// Exec makes one attempt. An error is retried with backoff up to
	// pipeline.max_attempts, except a *Stop, which ends the incident at once,
	// and a *SkipError, which records the phase as skipped.
	Exec(ctx context.Context, a Attempt) error
	// Describe says in one sentence what Exec will do for a run, for the
	// plan operators confirm before starting one (Pipeline.Plan).
	Describe(run Intent) string
}

// Intent is what a stage's description may depend on: the kind of run,
// whether it is forced, and the service with its configuration.
type Intent struct {
	Kind    api.Kind
	Force   bool
	Service *config.Service
}

// Attempt is what a stage sees on one attempt: the incident as journaled
// when the attempt started, the configuration in use (it may have been
// reloaded since the last attempt), the incident's service, the handle to
// write through, and Note, which adds a line to the phase's record.
type Attempt struct {
	Incident api.Incident
	Config   *config.Config
	Service  *config.Service
	Held     Held
	Note     func(string)
}

// Stop ends the incident at once in State, without retries: the stage found
// that trying again cannot help (the split-brain guard, an endpoint that is
// not an address, a service gone from the configuration).
type Stop struct {
	State api.State
	Msg   string
}

func (e *Stop) Error() string { return e.Msg }

// permanent is implemented by errors that know whether trying again can
// help, such as dnsupdate's *UpdateError: a DNS server that refuses the key
// or the update refuses it again until someone changes a configuration.
type permanent interface{ Permanent() bool }

// isPermanent reports whether err says retrying cannot help. The runner then
// fails the stage at once, like a *Stop into failed, keeping the error's
// words (and so its hint) as the incident's cause.
func isPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p) && p.Permanent()
}

// SkipError is what a stage returns when it finds, as it runs, that it does
// not apply (a plugin without Abort): the phase is recorded as skipped with
// Reason, and the runner carries on as after a success.
type SkipError struct {
	Reason string
}

func (e *SkipError) Error() string { return e.Reason }

// skipped is a stage that is recorded as skipped with a reason instead of
// running.
type skipped struct {
	Stage
	why string
}

// Skip records s as skipped with the reason why instead of running it.
func Skip(s Stage, why string) Stage { return skipped{Stage: s, why: why} }

// Describe of a skipped stage is why it is skipped.
func (s skipped) Describe(Intent) string { return s.why }

// Metrics are the receiver's metrics the pipeline feeds.
type Metrics struct {
	Recoveries    *prometheus.CounterVec   // service, strategy, outcome
	PhaseDuration *prometheus.HistogramVec // phase
	DNSUpdates    *prometheus.CounterVec   // service, result
}

// Options are the pipeline's collaborators. A nil Fencer, Strategies,
// Prober or DNS makes the stages that need it fail with a clear error.
type Options struct {
	Config     func() *config.Config // the configuration in use, read at every attempt
	Fencer     Fencer
	Strategies Strategies
	Prober     Prober
	DNS        DNS
	Clock      Clock
	Logger     *slog.Logger
	Metrics    Metrics
}

// Pipeline holds the stage values every runner shares, and the running
// runners' stages, so that Cancel can interrupt them.
type Pipeline struct {
	opts     Options
	fence    Fence
	prepare  Prepare
	verify   Verify
	switchTo Switch
	finalize Finalize
	abort    Abort

	mu      sync.Mutex
	running map[string]*interrupt // incident ID -> its runner's stages
}

// New builds the stages from opts.
func New(opts Options) *Pipeline {
	if opts.Clock == nil {
		opts.Clock = RealClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Pipeline{
		opts:     opts,
		fence:    Fence{Fencer: opts.Fencer, Prober: opts.Prober, Clock: opts.Clock},
		prepare:  Prepare{Strategies: opts.Strategies, Slots: NewLimiter()},
		verify:   Verify{Prober: opts.Prober},
		switchTo: Switch{DNS: opts.DNS, Clock: opts.Clock, Updates: opts.Metrics.DNSUpdates, Slots: NewLimiter()},
		finalize: Finalize{Strategies: opts.Strategies},
		abort:    Abort{Strategies: opts.Strategies, DNS: opts.DNS},
		running:  map[string]*interrupt{},
	}
}

// Stages lists what an incident of kind runs, in order. A stage that does
// not apply to the kind stays in the list as skipped, so every incident
// records the same phases.
//
// The abort stage is not in these lists: it runs only when a recovery is
// undone (Undo).
func (p *Pipeline) Stages(kind api.Kind) []Stage {
	var fence, finalize Stage = p.fence, p.finalize
	switch kind {
	case api.KindDrill:
		fence = Skip(fence, "drill: the primary is healthy and stays up")
	case api.KindScaleUp:
		fence = Skip(fence, "scale-up: the service is moving off the standby, which keeps serving until DNS switches")
	case api.KindFailback:
		fence = Skip(fence, "failback: the primary is the target")
		finalize = Skip(finalize, "failback: nothing to clean up")
	}
	return []Stage{fence, p.prepare, p.verify, p.switchTo, finalize}
}

// Plan says what a run of kind would do to svc, phase by phase, from the
// same stage list Run walks, so a confirmation text cannot name a phase
// that will not run or miss one that will.
func (p *Pipeline) Plan(kind api.Kind, force bool, svc *config.Service) api.Plan {
	run := Intent{Kind: kind, Force: force, Service: svc}
	plan := api.Plan{Service: svc.Name, Kind: kind, Force: force}
	for _, s := range p.Stages(kind) {
		_, skip := s.(skipped)
		plan.Steps = append(plan.Steps, api.PlanStep{Phase: s.Phase(), Runs: !skip, Does: s.Describe(run)})
	}
	return plan
}

// runner drives one incident; each Run makes its own.
type runner struct {
	p    *Pipeline
	held Held
	log  *slog.Logger
}

// Run drives the incident behind h from its last completed phase to the
// end. It returns when the incident is closed, handed back, or ctx ends
// (the incident then resumes at the next start). An incident whose undo
// had begun resumes the undo; a cancel request stops it before its next
// stage or attempt (Cancel interrupts the running one).
func (p *Pipeline) Run(ctx context.Context, h Held) {
	inc, ok := h.Snapshot()
	if !ok {
		return
	}
	r := &runner{p: p, held: h, log: p.opts.Logger.With("incident", inc.ID, "service", inc.Service, "kind", inc.Kind)}
	if p.opts.Config().Service(inc.Service) == nil {
		r.finish(ctx, api.StateFailed, "service "+inc.Service+" is no longer in the configuration; restore it and run `vcrctl failover "+inc.Service+"` if still needed")
		return
	}
	if inc.State == api.StateAborting {
		r.log.Info("resuming the undo of the recovery after a restart")
		r.undo(ctx, inc.Error)
		return
	}
	stageCtx, untrack := p.track(ctx, inc.ID)
	defer untrack()
	for _, s := range p.Stages(inc.Kind) {
		cur, _ := h.Snapshot()
		if ph := cur.Phase(s.Phase()); ph != nil && (ph.Outcome == api.OutcomeOK || ph.Outcome == api.OutcomeSkipped) {
			continue // done before a restart: never redo it
		}
		if cur.CancelRequestedAt != nil {
			r.cancelled(ctx, s.Phase())
			return
		}
		if sk, ok := s.(skipped); ok {
			if err := r.skip(ctx, sk); err != nil {
				r.log.Warn("journal phase skip", "phase", s.Phase(), "err", err)
				return
			}
			continue
		}
		if err := r.runStage(stageCtx, s); err != nil {
			if ctx.Err() == nil && (errors.Is(err, ErrCancelled) || errors.Is(context.Cause(stageCtx), ErrCancelled)) {
				r.cancelled(ctx, s.Phase())
				return
			}
			r.fail(ctx, s, err)
			return
		}
	}
	r.finish(ctx, api.StateResolved, "")
	r.log.Info("incident resolved")
}

// fail ends the run after stage s failed for good, deciding by the error
// whether the recovery is undone, the incident closed, handed back, or left
// to resume.
func (r *runner) fail(ctx context.Context, s Stage, err error) {
	phase := s.Phase()
	if r.interrupted(ctx, phase, err) {
		return
	}
	var stop *Stop
	switch {
	case errors.As(err, &stop):
		r.log.Warn("incident stopped", "phase", phase, "state", stop.State, "reason", stop.Msg)
		if stop.State == api.StateFailed && phase != api.PhaseFinalize {
			r.undo(ctx, stop.Msg)
			return
		}
		r.finish(ctx, stop.State, stop.Msg)
	case phase == api.PhaseFinalize:
		// DNS already points at the new endpoint: the service is
		// recovered, only the clean-up failed.
		r.log.Warn("finalize failed after DNS switched", "err", err)
		r.finish(ctx, api.StateResolved, "recovered, but finalize failed: "+err.Error())
	default:
		r.log.Error("phase failed; undoing the recovery", "phase", phase, "err", err)
		r.undo(ctx, phase+" failed: "+err.Error())
	}
}

// interrupted handles an error that is no failure of the recovery and
// reports whether it was one: the runner's context ended (the incident
// resumes at the next start), or the handle refused a write, because the
// incident is another replica's now or the shared journal did not answer
// (the runner hands it back without writing or switching anything more).
func (r *runner) interrupted(ctx context.Context, phase string, err error) bool {
	switch {
	case ctx.Err() != nil:
		r.log.Info("pipeline stopped; the incident resumes at the next start", "phase", phase)
	case errors.Is(err, ownership.ErrNotOwner):
		r.log.Warn("lost ownership of the incident: stopping without writing or switching anything; another replica resumes it", "phase", phase, "err", err)
		r.held.Release()
	case errors.Is(err, ownership.ErrUnavailable):
		// The shared journal did not answer (no quorum, timeout). The
		// incident stays as last journaled; it is adopted again (by this
		// replica while its lease lasts, else by another) once it answers.
		r.log.Warn("journal unavailable: pausing the incident until etcd answers", "phase", phase, "err", err)
		r.held.Release()
	default:
		return false
	}
	return true
}

// runStage journals the phase start, runs attempts with bounded exponential
// backoff, and journals the outcome. Errors from a cancelled ctx leave the
// phase "running" in the journal so it is resumed, not failed.
func (r *runner) runStage(ctx context.Context, s Stage) error {
	cfg := r.p.opts.Config()
	clock := r.p.opts.Clock
	maxAttempts := cfg.Pipeline.MaxAttempts
	backoff := cfg.Pipeline.Backoff
	var notes []string
	dropped := 0
	note := func(msg string) {
		// A chatty plugin must not grow the incident without bound.
		if len(notes) >= maxNotesPerAttempt {
			dropped++
			return
		}
		notes = append(notes, msg)
	}
	phase := s.Phase()
	started := clock.Now()
	for attempt := 1; ; attempt++ {
		_, err := r.held.Update(ctx, nil, func(inc *api.Incident) {
			inc.State = s.State()
			ph := inc.Phase(phase)
			if ph == nil {
				inc.Phases = append(inc.Phases, api.Phase{Name: phase, StartedAt: started})
				ph = &inc.Phases[len(inc.Phases)-1]
			}
			ph.Outcome = api.OutcomeRunning
			ph.Attempts++
			ph.Messages = append(ph.Messages, notes...)
		})
		notes = nil
		if err != nil {
			return fmt.Errorf("journal %s start: %w", phase, err)
		}
		err = r.attempt(ctx, s, note)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ownership.ErrNotOwner) || errors.Is(err, ownership.ErrUnavailable) || errors.Is(err, ErrCancelled) {
			return err // not the stage's fault: retrying it would not help
		}
		outcome := api.OutcomeOK
		var skip *SkipError
		if errors.As(err, &skip) {
			outcome, err = api.OutcomeSkipped, nil
			note(skip.Reason)
		}
		var stop *Stop
		final := err == nil || errors.As(err, &stop) || attempt >= maxAttempts
		if err != nil && !final && isPermanent(err) {
			note(fmt.Sprintf("attempt %d failed: %v; not retrying, since trying again cannot help until a configuration changes", attempt, err))
			final = true
		}
		if !final {
			note(fmt.Sprintf("attempt %d failed: %v; retrying in %s", attempt, err, backoff))
			if serr := clock.Sleep(ctx, backoff); serr != nil {
				return serr
			}
			backoff = min(backoff*2, cfg.Pipeline.MaxBackoff)
			continue
		}
		end := clock.Now()
		msg := ""
		if err != nil {
			outcome, msg = api.OutcomeFailed, err.Error()
		}
		if dropped > 0 {
			notes = append(notes, fmt.Sprintf("(%d more messages dropped)", dropped))
		}
		snap, jerr := r.held.Update(ctx, nil, func(inc *api.Incident) {
			ph := inc.Phase(phase)
			ph.Outcome, ph.Error = outcome, msg
			ph.EndedAt = &end
			ph.DurationSeconds = end.Sub(ph.StartedAt).Seconds()
			ph.Messages = append(ph.Messages, notes...)
		})
		if jerr != nil && err == nil {
			return fmt.Errorf("journal %s end: %w", phase, jerr)
		}
		if err == nil && outcome == api.OutcomeOK {
			if ph := snap.Phase(phase); ph != nil {
				r.p.opts.Metrics.PhaseDuration.WithLabelValues(phase).Observe(ph.DurationSeconds)
			}
		}
		return err
	}
}

// attempt gives stage s what it sees on one attempt and runs it. An
// incident or service that vanished stops the incident; a cancel request
// journaled since the last attempt keeps the attempt from starting (the
// snapshot is taken after the attempt's start was journaled, so a cancel
// accepted before the switch phase began never lets an UPDATE out).
func (r *runner) attempt(ctx context.Context, s Stage, note func(string)) error {
	inc, ok := r.held.Snapshot()
	if !ok {
		return &Stop{State: api.StateFailed, Msg: "incident " + r.held.ID() + " vanished from memory"}
	}
	if _, undoing := s.(Abort); inc.CancelRequestedAt != nil && !undoing {
		return ErrCancelled
	}
	cfg := r.p.opts.Config()
	svc := cfg.Service(inc.Service)
	if svc == nil {
		return &Stop{State: api.StateFailed, Msg: "service " + inc.Service + " is no longer configured"}
	}
	return s.Exec(ctx, Attempt{Incident: inc, Config: cfg, Service: svc, Held: r.held, Note: note})
}

func (r *runner) skip(ctx context.Context, s skipped) error {
	now := r.p.opts.Clock.Now()
	_, err := r.held.Update(ctx, nil, func(inc *api.Incident) {
		inc.Phases = append(inc.Phases, api.Phase{Name: s.Phase(), StartedAt: now, EndedAt: &now, Outcome: api.OutcomeSkipped, Messages: []string{s.why}})
	})
	return err
}

// finish closes the incident in state with msg. If that cannot be
// journaled because this replica no longer owns the incident or the shared
// journal is unavailable, it hands the incident back instead.
func (r *runner) finish(ctx context.Context, state api.State, msg string) {
	now := r.p.opts.Clock.Now()
	snap, err := r.held.Update(context.WithoutCancel(ctx), nil, func(inc *api.Incident) {
		inc.State, inc.Error = state, msg
		inc.ClosedAt = &now
	})
	if errors.Is(err, ownership.ErrNotOwner) || errors.Is(err, ownership.ErrUnavailable) {
		r.log.Warn("could not journal the incident's end; it is resumed from its last journaled state", "err", err)
		r.held.Release()
		return
	}
	if err != nil {
		r.log.Error("journal incident end", "err", err)
	}
	r.p.opts.Metrics.Recoveries.WithLabelValues(snap.Service, snap.Strategy, string(state)).Inc()
}
