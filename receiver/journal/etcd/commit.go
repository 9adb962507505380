package etcd

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

// maxAttempts bounds how often one transaction is tried again after its
// guards failed for a reason that allows going on (a stale snapshot to drop,
// a slot this very batch already took).
const maxAttempts = 4

var errKeptConflicting = errors.New("etcd journal: write kept conflicting; retry")

// Commit implements journal.Journal.
func (j *Journal) Commit(ctx context.Context, b journal.Batch) error {
	return j.CommitClaims(ctx, b, nil)
}

// CommitClaims implements journal.Cluster. A batch that fits the
// transaction budget (Options.MaxTxnOps, MaxTxnBytes) is one transaction,
// guarded by the claims, by this replica's lease on every incident it writes
// (fencing) and by the snapshots' revisions. A larger one (a delivery naming
// many services, one alert matching every service of a host) is split so
// that no transaction exceeds etcd's limits, with the same guarantees: see
// split.
func (j *Journal) CommitClaims(ctx context.Context, b journal.Batch, claims []journal.Claim) error {
	start := time.Now()
	defer j.observe("commit", start)
	enc, err := journal.Encode(b)
	if err != nil {
		return err
	}
	c := j.newCommit(b, enc, claims)
	records := c.records()
	for attempt := 0; attempt < maxAttempts; attempt++ {
		units, err := c.units(c.services)
		if err != nil {
			return err
		}
		all := append(units, records...)
		if !j.fits(total(all)) {
			return c.split(ctx, records)
		}
		ok, _, err := c.write(ctx, all)
		if err != nil || ok {
			return err
		}
		// Find which guard failed: a claim conflict or lost ownership ends
		// the commit; a stale snapshot is dropped (a newer one is stored)
		// and the rest is written.
		if err := c.diagnose(ctx, c.services); err != nil {
			return err
		}
	}
	return errKeptConflicting
}

// split writes a batch too large for one transaction:
//
//  1. Every guard is checked first, by reading: a claim that does not hold
//     gives a ConflictError naming every failed claim, and a snapshot this
//     replica may not write gives ErrFenced, before anything is written.
//  2. Each service's claims and snapshots are one unit, written in one
//     transaction with their own compares (units packed in service order),
//     so the slot check stays atomic with that service's snapshot and every
//     snapshot stays fenced on the owner's lease.
//  3. Alert records and events come last, once every guard held, so a
//     failed guard never leaves records behind; their keys derive from the
//     batch, so committing the same batch again overwrites them.
//
// A guard can still fail in a later transaction when another replica
// changed a slot since step 1. The incidents this commit opened in the
// earlier transactions are then deleted again (undo), so a ConflictError or
// ErrFenced still means nothing of the batch remains. When etcd fails
// meanwhile (no quorum) the outcome is unknown, as for any write that timed
// out: what was written stays, incidents this replica opened are listed by
// Orphans and adopted, and committing the same batch again takes their slots
// back (reclaim) instead of conflicting.
func (c *commit) split(ctx context.Context, records []unit) error {
	if err := c.diagnose(ctx, c.services); err != nil {
		return err
	}
	var done []written
	remaining := c.services
	for failures := 0; len(remaining) > 0; {
		var batch []unit
		var size txnSize
		for _, svc := range remaining {
			u, err := c.unit(svc)
			if err != nil {
				c.undo(ctx, done)
				return err
			}
			if len(batch) > 0 && !c.j.fits(size.add(u.size)) {
				break
			}
			batch = append(batch, u)
			size = size.add(u.size)
		}
		n := len(batch)
		ok, rev, err := c.write(ctx, batch)
		if err != nil {
			if errors.Is(err, journal.ErrTooLarge) {
				c.undo(ctx, done) // refused: certainly not written
			}
			return err
		}
		if !ok {
			if failures++; failures >= maxAttempts {
				c.undo(ctx, done)
				return errKeptConflicting
			}
			if err := c.diagnose(ctx, remaining[:n]); err != nil {
				c.undo(ctx, done)
				return err
			}
			continue
		}
		failures = 0
		done = append(done, written{units: batch, rev: rev})
		remaining = remaining[n:]
		c.j.wrote()
	}
	for _, run := range c.j.packed(records) {
		if _, _, err := c.write(ctx, run); err != nil {
			return err
		}
		c.j.wrote()
	}
	return nil
}

// commit is one CommitClaims call and what it learned from etcd between
// attempts.
type commit struct {
	j        *Journal
	b        journal.Batch
	enc      journal.Encoded
	claims   []journal.Claim
	lease    clientv3.LeaseID
	services []string // every service with a claim or a snapshot, sorted
	claimsOf map[string][]journal.Claim
	incsOf   map[string][]int // indexes into b.Incidents
	opened   map[string]bool  // incidents an Open claim of this batch opens
	joins    map[string]bool
	// stale: snapshots dropped because a newer one is stored. reclaim:
	// incidents whose Open claim an earlier commit of this same batch
	// already took (the slot holds them under this replica's lease).
	stale, reclaim map[string]bool
}

func (j *Journal) newCommit(b journal.Batch, enc journal.Encoded, claims []journal.Claim) *commit {
	c := &commit{
		j: j, b: b, enc: enc, claims: claims, lease: j.lease(),
		claimsOf: map[string][]journal.Claim{}, incsOf: map[string][]int{},
		opened: map[string]bool{}, joins: map[string]bool{}, stale: map[string]bool{}, reclaim: map[string]bool{},
	}
	for _, cl := range claims {
		if cl.Open {
			c.opened[cl.IncidentID] = true
		}
		if cl.Join {
			c.joins[cl.IncidentID] = true
		}
		c.claimsOf[cl.Service] = append(c.claimsOf[cl.Service], cl)
	}
	for i, inc := range b.Incidents {
		c.incsOf[inc.Service] = append(c.incsOf[inc.Service], i)
	}
	for svc := range c.claimsOf {
		c.services = append(c.services, svc)
	}
	for svc := range c.incsOf {
		if _, ok := c.claimsOf[svc]; !ok {
			c.services = append(c.services, svc)
		}
	}
	slices.Sort(c.services)
	return c
}

// units builds the guarded unit of each service, leaving out empty ones.
func (c *commit) units(services []string) ([]unit, error) {
	var out []unit
	for _, svc := range services {
		u, err := c.unit(svc)
		if err != nil {
			return nil, err
		}
		if u.size.cmps+u.size.ops > 0 {
			out = append(out, u)
		}
	}
	return out, nil
}

// unit is everything the batch writes about one service: its claims and
// its incidents' snapshots, with the compares that guard them.
func (c *commit) unit(svc string) (unit, error) {
	j := c.j
	var u unit
	for _, cl := range c.claimsOf[svc] {
		openKey := j.key("open/", cl.Service)
		if cl.Join {
			continue // checked through the incident's owner below
		}
		if !cl.Open {
			u.cmp(clientv3.Compare(clientv3.Value(openKey), "=", cl.IncidentID))
			continue
		}
		if c.lease == 0 {
			return u, fmt.Errorf("open incident for %s: %w", cl.Service, journal.ErrFenced)
		}
		ownerKey := j.key("owner/", cl.IncidentID)
		if c.reclaim[cl.IncidentID] {
			u.cmp(clientv3.Compare(clientv3.Value(openKey), "=", cl.IncidentID),
				clientv3.Compare(clientv3.LeaseValue(ownerKey), "=", c.lease))
		} else {
			u.cmp(clientv3.Compare(clientv3.CreateRevision(openKey), "=", 0))
			u.opens = append(u.opens, opened{id: cl.IncidentID, keys: []string{openKey, ownerKey}})
		}
		// The closed/ compare keeps a replica that has not yet heard of
		// another's completed failover from starting a second one.
		u.cmp(clientv3.Compare(clientv3.ModRevision(j.key("closed/", cl.Service)), "=", cl.ClosedRev))
		u.op(clientv3.OpPut(openKey, cl.IncidentID),
			clientv3.OpPut(ownerKey, j.opts.Replica, clientv3.WithLease(c.lease)))
	}
	for _, i := range c.incsOf[svc] {
		inc := c.b.Incidents[i]
		if c.stale[inc.ID] {
			continue
		}
		revKey, incKey := j.key("rev/", inc.ID), j.key("incidents/", inc.ID)
		switch {
		case !c.opened[inc.ID]:
			if c.lease == 0 {
				return u, fmt.Errorf("write incident %s: %w", inc.ID, journal.ErrFenced)
			}
			u.cmp(clientv3.Compare(clientv3.LeaseValue(j.key("owner/", inc.ID)), "=", c.lease),
				clientv3.Compare(clientv3.Value(revKey), "<", padRev(inc.Revision)))
		case c.reclaim[inc.ID]:
			// The earlier commit stored this very revision: writing it
			// again is fine, rolling a newer one back is not.
			u.cmp(clientv3.Compare(clientv3.Value(revKey), "<", padRev(inc.Revision+1)))
		}
		u.op(clientv3.OpPut(incKey, string(c.enc.Incidents[i])), clientv3.OpPut(revKey, padRev(inc.Revision)))
		if c.opened[inc.ID] {
			idx := j.openedKey(inc.OpenedAt, inc.ID)
			u.op(clientv3.OpPut(idx, inc.ID))
			for k := range u.opens {
				if u.opens[k].id == inc.ID {
					u.opens[k].keys = append(u.opens[k].keys, incKey, revKey, idx)
				}
			}
		}
		if !inc.State.Holds() {
			// Closing frees the slot and records the close, in the same
			// transaction, so no replica can see the slot free while
			// still believing the service runs on its primary.
			if !c.opened[inc.ID] {
				u.cmp(clientv3.Compare(clientv3.Value(j.key("open/", inc.Service)), "=", inc.ID))
			}
			u.op(clientv3.OpDelete(j.key("open/", inc.Service)),
				clientv3.OpPut(j.key("closed/", inc.Service), inc.ID),
				clientv3.OpDelete(j.key("owner/", inc.ID)))
		}
	}
	return u, nil
}

// records are the batch's alert records and events, one unguarded unit
// each. Their keys are ordered by the record's own time and name the batch
// by a digest of its content, so committing the same batch again (a retry
// after a failure halfway) overwrites them instead of adding copies.
func (c *commit) records() []unit {
	sum := sha256.New()
	for _, part := range [][][]byte{c.enc.Alerts, c.enc.Events, c.enc.Incidents} {
		for _, v := range part {
			var n [8]byte
			binary.BigEndian.PutUint64(n[:], uint64(len(v)))
			sum.Write(n[:])
			sum.Write(v)
		}
		sum.Write([]byte{0xff})
	}
	batch := hex.EncodeToString(sum.Sum(nil)[:8])
	var out []unit
	for i, v := range c.enc.Alerts {
		var u unit
		u.op(clientv3.OpPut(c.j.recordKey("alerts", c.b.Alerts[i].ReceivedAt, batch, i), string(v)))
		out = append(out, u)
	}
	for i, v := range c.enc.Events {
		var u unit
		u.op(clientv3.OpPut(c.j.recordKey("events", c.b.Events[i].Time, batch, i), string(v)))
		out = append(out, u)
	}
	return out
}

// recordKey is <unix nanoseconds>-<replica>-<batch>-<index>. A time etcd's
// keys cannot order (zero, before 1970) is replaced by the current one.
func (j *Journal) recordKey(kind string, t time.Time, batch string, i int) string {
	if t.Before(time.Unix(0, 0)) || t.After(time.Unix(0, math.MaxInt64)) {
		t = time.Now()
	}
	return j.key(kind, "/", fmt.Sprintf("%020d-%s-%s-%06d", t.UnixNano(), j.opts.Replica, batch, i))
}

// write commits units as one transaction.
func (c *commit) write(ctx context.Context, units []unit) (ok bool, rev int64, err error) {
	return c.j.writeUnits(ctx, "write journal to etcd", units)
}

// writeUnits commits units as one transaction: ok is false when a compare
// failed, rev is the revision the transaction wrote at.
func (j *Journal) writeUnits(ctx context.Context, what string, units []unit) (ok bool, rev int64, err error) {
	var cmps []clientv3.Cmp
	var ops []clientv3.Op
	for _, u := range units {
		cmps = append(cmps, u.cmps...)
		ops = append(ops, u.ops...)
	}
	tctx, cancel := j.reqCtx(ctx)
	defer cancel()
	resp, err := j.cli.Txn(tctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return false, 0, j.classify(what, err, total(units))
	}
	return resp.Succeeded, resp.Header.Revision, nil
}

// packed splits units into runs that each fit the budget (a unit too large
// alone still gets a run of its own).
func (j *Journal) packed(units []unit) [][]unit {
	var out [][]unit
	for len(units) > 0 {
		n, size := 0, txnSize{}
		for n < len(units) && (n == 0 || j.fits(size.add(units[n].size))) {
			size = size.add(units[n].size)
			n++
		}
		out = append(out, units[:n])
		units = units[n:]
	}
	return out
}

// diagnose reads the keys the services' guards compare and says why they
// failed: a claim that no longer holds ends the commit with a ConflictError
// (naming every failed claim), lost ownership with ErrFenced; a stale
// snapshot is marked to be dropped, and a slot this very batch took in an
// earlier commit is marked to be taken back.
func (c *commit) diagnose(ctx context.Context, services []string) error {
	j := c.j
	in := map[string]bool{}
	for _, svc := range services {
		in[svc] = true
	}
	var keys []string
	for _, cl := range c.claims {
		if in[cl.Service] && !cl.Join {
			keys = append(keys, j.key("open/", cl.Service), j.key("closed/", cl.Service), j.key("owner/", cl.IncidentID))
		}
	}
	for _, svc := range services {
		for _, i := range c.incsOf[svc] {
			id := c.b.Incidents[i].ID
			keys = append(keys, j.key("owner/", id), j.key("rev/", id))
		}
	}
	kvs, err := j.getKeys(ctx, keys)
	if err != nil {
		return err
	}
	value := func(k string) string {
		if kv := kvs[k]; kv != nil {
			return string(kv.Value)
		}
		return ""
	}
	ownedHere := func(id string) bool {
		kv := kvs[j.key("owner/", id)]
		return c.lease != 0 && kv != nil && clientv3.LeaseID(kv.Lease) == c.lease
	}
	var conflicts []*journal.ConflictError
	for _, cl := range c.claims {
		if !in[cl.Service] || cl.Join {
			continue
		}
		closedKey := j.key("closed/", cl.Service)
		holder, closedRev := value(j.key("open/", cl.Service)), int64(0)
		if kv := kvs[closedKey]; kv != nil {
			closedRev = kv.ModRevision
		}
		if cl.Open && holder == cl.IncidentID && closedRev == cl.ClosedRev && ownedHere(cl.IncidentID) {
			c.reclaim[cl.IncidentID] = true
			continue
		}
		if cl.Open && holder == "" && closedRev == cl.ClosedRev || !cl.Open && holder == cl.IncidentID {
			continue
		}
		conflict := &journal.ConflictError{Service: cl.Service, Holder: holder, ClosedRev: closedRev}
		if closedRev != cl.ClosedRev && closedRev != 0 {
			inc, err := j.Incident(ctx, value(closedKey))
			switch {
			case err == nil:
				conflict.Closed = &inc
			case !errors.Is(err, journal.ErrNotFound):
				return err
			}
		}
		conflicts = append(conflicts, conflict)
	}
	if len(conflicts) > 0 {
		conflicts[0].Also = conflicts[1:]
		return conflicts[0]
	}
	for _, svc := range services {
		for _, i := range c.incsOf[svc] {
			inc := c.b.Incidents[i]
			if c.stale[inc.ID] {
				continue
			}
			stored := value(j.key("rev/", inc.ID))
			if c.opened[inc.ID] {
				if c.reclaim[inc.ID] && stored > padRev(inc.Revision) {
					c.stale[inc.ID] = true // adopted and moved on meanwhile
				}
				continue
			}
			owned := ownedHere(inc.ID)
			newer := stored != "" && stored >= padRev(inc.Revision)
			switch {
			case newer && (owned || c.joins[inc.ID]):
				// A newer snapshot is stored (the pipeline moved on, or
				// closed the incident while this delivery joined it):
				// drop this one, as bbolt does.
				c.stale[inc.ID] = true
			case !owned:
				return fmt.Errorf("write incident %s: %w", inc.ID, journal.ErrFenced)
			}
		}
	}
	return nil
}

// undo deletes again the incidents this commit opened in transactions that
// succeeded before a later one failed, so that a ConflictError or ErrFenced
// still means nothing of the batch remains. Each is deleted only while every
// key is as that transaction wrote it; one that changed meanwhile (adopted
// by another replica after this one's lease expired) stays, and so does one
// etcd fails to delete: it is owned under this replica's lease, Orphans
// lists it and it is adopted, as after a write that timed out.
func (c *commit) undo(ctx context.Context, done []written) {
	ctx = context.WithoutCancel(ctx)
	for _, w := range done {
		for _, u := range w.units {
			for _, o := range u.opens {
				var x unit
				for _, k := range o.keys {
					x.cmp(clientv3.Compare(clientv3.ModRevision(k), "=", w.rev))
					x.op(clientv3.OpDelete(k))
				}
				ok, _, err := c.write(ctx, []unit{x})
				if err != nil || !ok {
					c.j.log.Warn("could not take back an incident opened by a commit that failed; it stays and is adopted as an orphan",
						"incident", o.id, "changed", !ok, "err", err)
				}
			}
		}
	}
}

// written is one transaction of a split commit that succeeded, at rev.
type written struct {
	units []unit
	rev   int64
}

// unit is part of a batch that can be written in a transaction of its own:
// its compares guard exactly its own operations.
type unit struct {
	cmps  []clientv3.Cmp
	ops   []clientv3.Op
	size  txnSize
	opens []opened
}

// opened is an incident a unit opens and the keys it writes for it.
type opened struct {
	id   string
	keys []string
}

func (u *unit) cmp(cs ...clientv3.Cmp) {
	for _, c := range cs {
		u.cmps = append(u.cmps, c)
		u.size.cmps++
		u.size.bytes += len(c.KeyBytes()) + len(c.ValueBytes()) + opOverhead
	}
}

func (u *unit) op(ops ...clientv3.Op) {
	for _, o := range ops {
		u.ops = append(u.ops, o)
		u.size.ops++
		u.size.bytes += len(o.KeyBytes()) + len(o.RangeBytes()) + len(o.ValueBytes()) + opOverhead
	}
}

// txnSize is what etcd counts against its limits: compares and operations,
// each against --max-txn-ops, and bytes against --max-request-bytes.
type txnSize struct{ cmps, ops, bytes int }

// opOverhead over-estimates the protobuf framing of one compare or
// operation (its key and value are counted apart).
const opOverhead = 32

func (s txnSize) add(o txnSize) txnSize {
	return txnSize{s.cmps + o.cmps, s.ops + o.ops, s.bytes + o.bytes}
}

func total(units []unit) txnSize {
	var s txnSize
	for _, u := range units {
		s = s.add(u.size)
	}
	return s
}

// fits says whether a transaction of size s stays within the budget.
func (j *Journal) fits(s txnSize) bool {
	return s.cmps <= j.opts.MaxTxnOps && s.ops <= j.opts.MaxTxnOps && s.bytes <= j.opts.MaxTxnBytes
}

// getKeys reads keys in transactions within the budget; a missing key is
// absent from the map.
func (j *Journal) getKeys(ctx context.Context, keys []string) (map[string]*mvccpb.KeyValue, error) {
	out := map[string]*mvccpb.KeyValue{}
	uniq := slices.Compact(slices.Sorted(slices.Values(keys)))
	for len(uniq) > 0 {
		n := min(len(uniq), j.opts.MaxTxnOps)
		ops := make([]clientv3.Op, n)
		for i, k := range uniq[:n] {
			ops[i] = clientv3.OpGet(k)
		}
		tctx, cancel := j.reqCtx(ctx)
		resp, err := j.cli.Txn(tctx).Then(ops...).Commit()
		cancel()
		if err != nil {
			return nil, j.classify("read etcd", err, txnSize{ops: n})
		}
		for _, r := range resp.Responses {
			for _, kv := range r.GetResponseRange().Kvs {
				out[string(kv.Key)] = kv
			}
		}
		uniq = uniq[n:]
	}
	return out, nil
}
