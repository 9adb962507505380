package datasync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Mode is the direction a service's data flows.
type Mode string

const (
	// ModeForward copies primary to standby: the normal state.
	ModeForward Mode = "forward"
	// ModePromoted follows a failover: the standby serves and nothing is
	// copied (the primary is down or stale).
	ModePromoted Mode = "promoted"
	// ModeReversed prepares a failback: the standby's data flows back to the
	// primary until Resume.
	ModeReversed Mode = "reversed"
)

// ErrWrongMode means an operation does not apply in the service's mode.
var ErrWrongMode = errors.New("wrong mode")

// ErrUnknownService means no service of that name is configured.
var ErrUnknownService = errors.New("unknown service")

// ErrUnknownKind means a kind of data other than database, files or backup.
var ErrUnknownKind = errors.New("unknown kind")

// seedBackoff spaces automatic seeding attempts: a seed copies the whole
// database.
const seedBackoff = 30 * time.Second

// connectWait is how long a just-started replica may take to connect to its
// source before "Connecting" counts as a failure.
const connectWait = 10 * time.Second

// state is what survives a restart, in <state_dir>/services/<name>/state.json.
type state struct {
	Mode         Mode                 `json:"mode"`
	PromotedGTID string               `json:"promoted_gtid,omitempty"` // what the standby had applied when promoted
	LastSuccess  map[string]time.Time `json:"last_success"`
}

// KindStatus is the API's view of one kind of a service's data.
type KindStatus struct {
	LastSuccess time.Time `json:"last_success"`
	LastAttempt time.Time `json:"last_attempt"`
	Error       string    `json:"error,omitempty"`
	Cause       Cause     `json:"cause,omitempty"`
	Fix         string    `json:"fix,omitempty"`
}

// ServiceStatus is the API's view of a service.
type ServiceStatus struct {
	Name       string                `json:"name"`
	Mode       Mode                  `json:"mode"`
	RPOSeconds float64               `json:"rpo_seconds"`
	LagSeconds *float64              `json:"replica_lag_seconds,omitempty"`
	Kinds      map[string]KindStatus `json:"kinds"`
}

// runner keeps one service's data in sync. Its mutex serializes the periodic
// steps and the operations (promote, reverse, resume, reseed), so a promotion
// never races a seed.
type runner struct {
	cfg   *Config
	svc   *Service
	ssh   sshClient
	pools *pools
	m     *metrics
	log   *slog.Logger

	mu       sync.Mutex
	st       state
	status   map[string]KindStatus
	lag      *float64
	nextSeed time.Time
	pairOK   bool // the replication pair's settings were checked
}

func newRunner(cfg *Config, svc *Service, p *pools, m *metrics, log *slog.Logger) *runner {
	r := &runner{cfg: cfg, svc: svc, ssh: sshClient{cfg: cfg.SSH}, pools: p, m: m,
		log: log.With("service", svc.Name), status: map[string]KindStatus{}}
	r.st = r.loadState()
	m.setMode(svc.Name, r.st.Mode)
	for _, k := range svc.Kinds() {
		m.rpo.WithLabelValues(svc.Name, k).Set(svc.RPOFor(k).Seconds())
		ts := r.st.LastSuccess[k]
		r.status[k] = KindStatus{LastSuccess: ts}
		m.lastSuccess.WithLabelValues(svc.Name, k).Set(unixOrZero(ts))
	}
	return r
}

func unixOrZero(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func (r *runner) stateFile() string {
	return filepath.Join(r.cfg.StateDir, "services", r.svc.Name, "state.json")
}

func (r *runner) loadState() state {
	st := state{Mode: ModeForward, LastSuccess: map[string]time.Time{}}
	b, err := os.ReadFile(r.stateFile())
	if err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			r.log.Warn("state file unreadable; starting in forward mode", "file", r.stateFile(), "err", err)
			st = state{Mode: ModeForward}
		}
	}
	if st.LastSuccess == nil {
		st.LastSuccess = map[string]time.Time{}
	}
	if st.Mode == "" {
		st.Mode = ModeForward
	}
	return st
}

func (r *runner) saveState() error {
	b, _ := json.MarshalIndent(r.st, "", "  ")
	f := r.stateFile()
	if err := os.MkdirAll(filepath.Dir(f), 0o750); err != nil {
		return failure(CauseLocal, "save state", err)
	}
	if err := os.WriteFile(f+".tmp", b, 0o640); err != nil {
		return failure(CauseLocal, "save state", err)
	}
	if err := os.Rename(f+".tmp", f); err != nil {
		return failure(CauseLocal, "save state", err)
	}
	return nil
}

// sides returns (source, replica) for the current mode; ok is false when
// nothing flows (promoted).
func (r *runner) sides() (src, dst Endpoint, ok bool) {
	switch r.st.Mode {
	case ModeForward:
		return r.svc.Primary, r.svc.Standby, true
	case ModeReversed:
		return r.svc.Standby, r.svc.Primary, true
	}
	return Endpoint{}, Endpoint{}, false
}

// Step runs one attempt of kind now and records its outcome.
func (r *runner) Step(ctx context.Context, kind string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stepLocked(ctx, kind)
}

func (r *runner) stepLocked(ctx context.Context, kind string) error {
	start := time.Now()
	var (
		ts    time.Time
		bytes int64
		err   error
		ran   = true
	)
	switch kind {
	case KindDatabase:
		ts, bytes, ran, err = r.stepDatabase(ctx)
	case KindFiles:
		ts, bytes, ran, err = r.stepFiles(ctx)
	case KindBackup:
		ts, bytes, ran, err = r.stepBackup(ctx)
	default:
		return fmt.Errorf("%w %q: use database, files or backup", ErrUnknownKind, kind)
	}
	if !ran {
		return nil
	}
	r.record(kind, start, ts, bytes, err)
	return err
}

// record turns an attempt into metrics, status, state and a log line.
func (r *runner) record(kind string, start, success time.Time, bytes int64, err error) {
	name := r.svc.Name
	r.m.duration.WithLabelValues(name, kind).Set(time.Since(start).Seconds())
	if bytes > 0 {
		r.m.bytes.WithLabelValues(name, kind).Add(float64(bytes))
	}
	ks := r.status[kind]
	ks.LastAttempt = start
	if !success.IsZero() && success.After(ks.LastSuccess) {
		ks.LastSuccess = success
		r.m.lastSuccess.WithLabelValues(name, kind).Set(unixOrZero(success))
		r.st.LastSuccess[kind] = success
		if serr := r.saveState(); serr != nil {
			r.log.Warn("cannot save state", "err", serr)
		}
	}
	if err != nil {
		cause := CauseOf(err)
		r.m.errors.WithLabelValues(name, kind, string(cause)).Inc()
		r.m.setFailing(name, kind, cause)
		if ks.Cause != cause || ks.Error != err.Error() {
			r.log.Warn("sync failed", "kind", kind, "cause", cause, "err", err)
		}
		ks.Error, ks.Cause, ks.Fix = err.Error(), cause, cause.Fix()
	} else {
		if ks.Error != "" {
			r.log.Info("sync recovered", "kind", kind)
		}
		r.m.setFailing(name, kind, "")
		ks.Error, ks.Cause, ks.Fix = "", "", ""
	}
	r.status[kind] = ks
}

// stepDatabase keeps the replica following its source: heartbeat on the
// source, seed the replica if it is none yet (forward mode only), restart a
// stopped replication, and read the replica's age from the heartbeat.
func (r *runner) stepDatabase(ctx context.Context) (time.Time, int64, bool, error) {
	srcEp, repEp, ok := r.sides()
	if !ok {
		return time.Time{}, 0, false, nil
	}
	forward := r.st.Mode == ModeForward
	src, rep := r.pools.get(srcEp.MySQL), r.pools.get(repEp.MySQL)
	hbErr := src.writeHeartbeat(ctx, time.Now())

	var seeded int64
	st, err := rep.replicaStatus(ctx)
	needSeed := (err == nil && !st.Configured) || (err != nil && CauseOf(err) == CauseMySQLAuth)
	if needSeed && forward {
		if hbErr != nil {
			return time.Time{}, 0, true, hbErr
		}
		if time.Now().Before(r.nextSeed) {
			return time.Time{}, 0, true, failure(CauseMisconfigured, repEp.MySQL, fmt.Errorf("not a replica yet; next seeding attempt at %s", r.nextSeed.Format(time.TimeOnly)))
		}
		r.nextSeed = time.Now().Add(seedBackoff)
		if seeded, err = r.seedLocked(ctx); err != nil {
			return time.Time{}, seeded, true, err
		}
		st, err = rep.waitConnected(ctx, connectWait)
	}
	if err != nil {
		r.setRunning(false, false)
		return time.Time{}, seeded, true, err
	}
	if !st.Configured {
		r.setRunning(false, false)
		return time.Time{}, seeded, true, failure(CauseMisconfigured, repEp.MySQL, errors.New("is no replica: in reversed mode the daemon does not seed the primary; run POST .../reverse again"))
	}
	if !r.pairOK {
		si, err1 := src.info(ctx)
		ri, err2 := rep.info(ctx)
		if err := errors.Join(err1, err2); err == nil {
			if err := checkPair(si, ri, srcEp.MySQL, repEp.MySQL); err != nil {
				return time.Time{}, seeded, true, err
			}
			r.pairOK = true
		}
	}
	if st.source() != srcEp.MySQLFromPeer {
		r.log.Info("replica follows another source; pointing it at the configured one", "replica", repEp.MySQL, "was", st.source(), "now", srcEp.MySQLFromPeer)
		if err := rep.becomeReplica(ctx, srcEp.MySQLFromPeer, r.cfg.MySQL, false); err != nil {
			return time.Time{}, seeded, true, err
		}
		if st, err = rep.waitConnected(ctx, connectWait); err != nil {
			return time.Time{}, seeded, true, err
		}
	} else if st.IORunning == "No" && st.SQLRunning == "No" && st.LastSQLError == "" {
		if err := rep.exec(ctx, "START SLAVE"); err != nil {
			return time.Time{}, seeded, true, err
		}
		if st, err = rep.waitConnected(ctx, connectWait); err != nil {
			return time.Time{}, seeded, true, err
		}
	}
	if st.settling() {
		if st, err = rep.waitConnected(ctx, connectWait); err != nil {
			return time.Time{}, seeded, true, err
		}
	}
	r.setRunning(st.IORunning == "Yes", st.SQLRunning == "Yes")
	hb, err := rep.readHeartbeat(ctx)
	if err != nil {
		return time.Time{}, seeded, true, err
	}
	if !hb.IsZero() {
		lag := time.Since(hb).Seconds()
		r.lag = &lag
		r.m.lag.WithLabelValues(r.svc.Name).Set(lag)
	}
	switch {
	case st.SQLRunning != "Yes" && st.LastSQLError != "":
		return hb, seeded, true, failure(CauseReplicationSQL, repEp.MySQL, errors.New(st.LastSQLError))
	case st.IORunning != "Yes" && st.LastIOError != "":
		return hb, seeded, true, failure(CauseReplicationIO, repEp.MySQL+" from "+srcEp.MySQLFromPeer, errors.New(st.LastIOError))
	case st.IORunning != "Yes" || st.SQLRunning != "Yes":
		return hb, seeded, true, failure(CauseReplicationIO, repEp.MySQL, fmt.Errorf("replication not running (IO %s, SQL %s)", st.IORunning, st.SQLRunning))
	case hbErr != nil:
		return hb, seeded, true, hbErr
	}
	return hb, seeded, true, nil
}

func (r *runner) setRunning(io, sql bool) {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	r.m.running.WithLabelValues(r.svc.Name, "io").Set(b(io))
	r.m.running.WithLabelValues(r.svc.Name, "sql").Set(b(sql))
}

// seedLocked copies the primary's whole MariaDB onto the standby and makes it
// a replica from the dump's GTID position.
func (r *runner) seedLocked(ctx context.Context) (int64, error) {
	s := r.svc
	r.log.Info("seeding the standby's MariaDB from the primary", "from", s.Primary.SSH, "to", s.Standby.SSH)
	start := time.Now()
	n, err := r.ssh.seed(ctx, s.Primary.SSH, s.Standby.SSH)
	if err != nil {
		return n, err
	}
	if err := r.pools.get(s.Standby.MySQL).becomeReplica(ctx, s.Primary.MySQLFromPeer, r.cfg.MySQL, false); err != nil {
		return n, err
	}
	r.m.seeds.WithLabelValues(s.Name).Inc()
	r.pairOK = false
	r.log.Info("standby seeded", "bytes", n, "took", time.Since(start).Round(time.Millisecond))
	return n, nil
}

// stepFiles copies the declared paths from source to replica side.
func (r *runner) stepFiles(ctx context.Context) (time.Time, int64, bool, error) {
	src, dst, ok := r.sides()
	if !ok {
		return time.Time{}, 0, false, nil
	}
	start := time.Now()
	n, err := r.ssh.copyPaths(ctx, src.SSH, dst.SSH, mirrorDir(r.cfg.StateDir, r.svc.Name, string(r.st.Mode)), r.svc.Sync.Paths, r.svc.Sync.BWLimit)
	if err != nil {
		return time.Time{}, n, true, err
	}
	return start, n, true, nil
}

// stepBackup takes a cold backup from the primary (forward mode only: in the
// other modes the primary is down or catching up).
func (r *runner) stepBackup(ctx context.Context) (time.Time, int64, bool, error) {
	if r.st.Mode != ModeForward {
		return time.Time{}, 0, false, nil
	}
	start := time.Now()
	b, n, err := r.backupOnce(ctx)
	if err != nil {
		return time.Time{}, n, true, err
	}
	r.log.Info("backup taken", "file", b.Path, "bytes", b.Size)
	return start, n, true, nil
}

// Status is the service's current status for the API.
func (r *runner) Status() ServiceStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.statusLocked()
}

func (r *runner) statusLocked() ServiceStatus {
	kinds := map[string]KindStatus{}
	for k, v := range r.status {
		kinds[k] = v
	}
	return ServiceStatus{Name: r.svc.Name, Mode: r.st.Mode, RPOSeconds: r.svc.RPO.Seconds(), LagSeconds: r.lag, Kinds: kinds}
}

// setModeLocked switches the direction, persists it, and drops the replica
// series that no longer apply.
func (r *runner) setModeLocked(mode Mode) error {
	r.st.Mode = mode
	r.m.setMode(r.svc.Name, mode)
	r.lag = nil
	r.pairOK = false
	r.m.lag.DeleteLabelValues(r.svc.Name)
	r.m.running.DeleteLabelValues(r.svc.Name, "io")
	r.m.running.DeleteLabelValues(r.svc.Name, "sql")
	return r.saveState()
}
