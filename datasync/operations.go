package datasync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vcrcovery/vcrcovery/datasync/syncapi"
)

// The operations a recovery calls, in the order of one failover and failback:
//
//	Promote  (failover, before verify)    forward  -> promoted
//	Reverse  (failback, before the switch) promoted -> reversed
//	Resume   (failback, after the switch)  reversed -> forward
//
// Reseed re-copies a broken replica in forward mode.

// PromoteResult says what the promoted standby holds (the API's answer).
type PromoteResult = syncapi.PromoteResult

// Promote makes the standby the service's primary: its replica stops
// fetching, applies all it received, forgets its source and turns read_only
// off; file copies stop. Promoting a promoted service answers the same again.
func (r *runner) Promote(ctx context.Context) (PromoteResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := PromoteResult{Service: r.svc.Name, RPOSeconds: r.svc.RPO.Seconds()}
	if ts := r.st.LastSuccess[KindFiles]; !ts.IsZero() && len(r.svc.Sync.Paths) > 0 {
		age := time.Since(ts).Seconds()
		res.FilesAgeSeconds = &age
		res.BeyondRPO = age > res.RPOSeconds
	}
	if r.st.Mode == ModePromoted {
		res.GTID = r.st.PromotedGTID
		return res, nil
	}
	if r.st.Mode != ModeForward {
		return res, fmt.Errorf("%w: promote %s: the service is %s; promote applies to forward mode", ErrWrongMode, r.svc.Name, r.st.Mode)
	}
	if r.svc.Database.Replicate {
		rep := r.pools.get(r.svc.Standby.MySQL)
		if hb, err := rep.readHeartbeat(ctx); err == nil && !hb.IsZero() {
			lag := time.Since(hb).Seconds()
			res.LagSeconds = &lag
			res.BeyondRPO = res.BeyondRPO || lag > res.RPOSeconds
		}
		pos, err := rep.becomePrimary(ctx, r.svc.Database.PromoteTimeout)
		if err != nil {
			return res, fmt.Errorf("promote %s: %w", r.svc.Name, err)
		}
		res.GTID = pos
		r.st.PromotedGTID = pos
	}
	if err := r.setModeLocked(ModePromoted); err != nil {
		return res, err
	}
	r.log.Info("standby promoted", "gtid", res.GTID, "lag_seconds", deref(res.LagSeconds))
	return res, nil
}

// ReverseResult says what reached the old primary.
type ReverseResult = syncapi.ReverseResult

// Reverse turns the direction around before a failback: the declared paths
// are copied from the standby to the primary, and the primary's MariaDB
// becomes a replica of the standby's from the position its own binlog
// reached, and has applied all the standby holds when Reverse returns
// (bounded by database.promote_timeout). An old primary holding transactions the standby never received
// is refused (CauseDiverged), never overwritten.
func (r *runner) Reverse(ctx context.Context) (ReverseResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := ReverseResult{Service: r.svc.Name}
	if r.st.Mode != ModePromoted {
		return res, fmt.Errorf("%w: reverse %s: the service is %s; reverse follows a promotion", ErrWrongMode, r.svc.Name, r.st.Mode)
	}
	s := r.svc
	n, err := r.copyBack(ctx)
	res.FilesBytes = n
	if err != nil {
		return res, fmt.Errorf("reverse %s: %w", s.Name, err)
	}
	if s.Database.Replicate {
		prim := r.pools.get(s.Primary.MySQL)
		pi, err := prim.info(ctx)
		if err != nil {
			return res, fmt.Errorf("reverse %s: %w", s.Name, err)
		}
		if d := diverged(pi.GTIDBinlogPos, r.st.PromotedGTID); r.st.PromotedGTID != "" && len(d) > 0 {
			return res, fmt.Errorf("reverse %s: %w", s.Name, failure(CauseDiverged, s.Primary.MySQL, errors.New(strings.Join(d, "; "))))
		}
		if err := prim.becomeReplica(ctx, s.Standby.MySQLFromPeer, r.cfg.MySQL, true); err != nil {
			return res, fmt.Errorf("reverse %s: %w", s.Name, err)
		}
		res.PrimaryGTID = pi.GTIDBinlogPos
		// The primary catches up before a failback may switch DNS to it.
		if _, err := prim.catchUp(ctx, r.pools.get(s.Standby.MySQL), s.Database.PromoteTimeout); err != nil {
			return res, fmt.Errorf("reverse %s: %w", s.Name, err)
		}
	}
	if err := r.setModeLocked(ModeReversed); err != nil {
		return res, err
	}
	r.log.Info("direction reversed: the primary follows the standby", "primary_gtid", res.PrimaryGTID, "files_bytes", res.FilesBytes)
	return res, nil
}

// ResumeResult says where the primary took over again.
type ResumeResult = syncapi.ResumeResult

// Resume ends a failback once the standby takes no more writes (DNS points at
// the primary again): a last file copy to the primary, the primary applies
// all it received from the standby and is promoted, and the standby follows
// the primary again.
func (r *runner) Resume(ctx context.Context) (ResumeResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := ResumeResult{Service: r.svc.Name}
	if r.st.Mode != ModeReversed {
		return res, fmt.Errorf("%w: resume %s: the service is %s; resume follows a reverse", ErrWrongMode, r.svc.Name, r.st.Mode)
	}
	s := r.svc
	if _, err := r.copyBack(ctx); err != nil {
		return res, fmt.Errorf("resume %s: %w", s.Name, err)
	}
	if s.Database.Replicate {
		// What the standby took until DNS moved back reaches the primary
		// before it takes over: not only what its IO thread fetched so far.
		if _, err := r.pools.get(s.Primary.MySQL).catchUp(ctx, r.pools.get(s.Standby.MySQL), s.Database.PromoteTimeout); err != nil {
			return res, fmt.Errorf("resume %s: %w", s.Name, err)
		}
		pos, err := r.pools.get(s.Primary.MySQL).becomePrimary(ctx, s.Database.PromoteTimeout)
		if err != nil {
			return res, fmt.Errorf("resume %s: %w", s.Name, err)
		}
		res.GTID = pos
		if err := r.pools.get(s.Standby.MySQL).becomeReplica(ctx, s.Primary.MySQLFromPeer, r.cfg.MySQL, true); err != nil {
			return res, fmt.Errorf("resume %s: the primary serves again, but the standby does not follow it: %w", s.Name, err)
		}
	}
	r.st.PromotedGTID = ""
	if err := r.setModeLocked(ModeForward); err != nil {
		return res, err
	}
	r.log.Info("failback complete: the standby follows the primary again", "gtid", res.GTID)
	return res, nil
}

// Reseed copies the primary's whole MariaDB onto the standby again (a replica
// that stopped applying, or one restored from an old backup).
func (r *runner) Reseed(ctx context.Context) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.st.Mode != ModeForward || !r.svc.Database.Replicate {
		return 0, fmt.Errorf("%w: reseed %s: needs forward mode and database.replicate (mode %s)", ErrWrongMode, r.svc.Name, r.st.Mode)
	}
	n, err := r.seedLocked(ctx)
	r.m.bytes.WithLabelValues(r.svc.Name, KindDatabase).Add(float64(n))
	return n, err
}

// copyBack copies the declared paths from the standby to the primary.
func (r *runner) copyBack(ctx context.Context) (int64, error) {
	s := r.svc
	if len(s.Sync.Paths) == 0 {
		return 0, nil
	}
	n, err := r.ssh.copyPaths(ctx, s.Standby.SSH, s.Primary.SSH, mirrorDir(r.cfg.StateDir, s.Name, string(ModeReversed)), s.Sync.Paths, s.Sync.BWLimit)
	r.m.bytes.WithLabelValues(s.Name, KindFiles).Add(float64(n))
	return n, err
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}
