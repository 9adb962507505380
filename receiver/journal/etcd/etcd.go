// Package etcd is the receiver's shared journal on an etcd cluster: every
// replica of vcr-receiver journals alerts and incidents there, etcd's
// transactions keep one open incident per service across all replicas, and
// leases decide (and fence) which replica runs each incident.
package etcd

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

// Options configure Open.
type Options struct {
	Endpoints []string
	// Prefix roots every key, so several receiver groups can share etcd.
	Prefix string
	// Replica names this receiver; it must differ between replicas.
	Replica        string
	DialTimeout    time.Duration
	RequestTimeout time.Duration // bound on one journal write or read
	LeaseTTL       time.Duration // ownership lease; takeover happens about this long after a replica dies
	CAFile         string
	CertFile       string
	KeyFile        string
	Logger         *slog.Logger
	Registry       prometheus.Registerer
}

// Journal implements journal.Cluster on etcd.
//
// Keys, below Prefix:
//
//	alerts/<time>-<replica>-<seq>, events/<time>-<replica>-<seq>: JSON records
//	incidents/<id>: the newest snapshot; rev/<id>: its revision, zero-padded
//	open/<service>: the ID of the incident holding the service's slot
//	owner/<id>: the replica running the incident, attached to its lease
//	closed/<service>: the ID of the service's last closed incident
type Journal struct {
	cli  *clientv3.Client
	opts Options
	log  *slog.Logger
	dur  *prometheus.HistogramVec
	seq  atomic.Uint64

	mu      sync.Mutex
	session *concurrency.Session

	changes chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
}

var _ journal.Cluster = (*Journal)(nil)

// Open connects to etcd and takes this replica's lease.
func Open(ctx context.Context, o Options) (*Journal, error) {
	if len(o.Endpoints) == 0 {
		return nil, errors.New("etcd journal: no endpoints; set journal.endpoints")
	}
	if o.Replica == "" {
		h, _ := os.Hostname()
		o.Replica = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	if o.Prefix == "" {
		o.Prefix = "/vcr/"
	}
	if o.Prefix[len(o.Prefix)-1] != '/' {
		o.Prefix += "/"
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 3 * time.Second
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var tlsCfg *tls.Config
	if o.CAFile != "" || o.CertFile != "" {
		info := transport.TLSInfo{TrustedCAFile: o.CAFile, CertFile: o.CertFile, KeyFile: o.KeyFile}
		c, err := info.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("etcd journal TLS: %w; check journal.tls files", err)
		}
		tlsCfg = c
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   o.Endpoints,
		DialTimeout: o.DialTimeout,
		TLS:         tlsCfg,
		Logger:      zap.NewNop(),
		// Keep-alives let the client leave a dead member quickly.
		DialKeepAliveTime:    2 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("connect to etcd %v: %w; check journal.endpoints", o.Endpoints, err)
	}
	j := &Journal{cli: cli, opts: o, log: o.Logger, changes: make(chan struct{}, 1)}
	j.dur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "vcr_etcd_request_duration_seconds",
		Help:    "Duration of the receiver's etcd requests, by operation.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"op"})
	if o.Registry != nil {
		o.Registry.MustRegister(j.dur)
	}
	j.ctx, j.cancel = context.WithCancel(context.Background())
	sctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	if _, err := cli.Get(clientv3.WithRequireLeader(sctx), o.Prefix+"probe"); err != nil {
		cli.Close()
		return nil, fmt.Errorf("etcd %v does not answer: %w; check that a quorum of members runs", o.Endpoints, err)
	}
	if err := j.Renew(sctx); err != nil {
		cli.Close()
		return nil, err
	}
	go j.watchOwners()
	return j, nil
}

// Replica implements journal.Cluster.
func (j *Journal) Replica() string { return j.opts.Replica }

// LeaseTTL is the ownership lease's time to live.
func (j *Journal) LeaseTTL() time.Duration { return j.opts.LeaseTTL }

// Renew implements journal.Cluster.
func (j *Journal) Renew(ctx context.Context) error {
	ttl := int(j.opts.LeaseTTL.Round(time.Second) / time.Second)
	if ttl < 1 {
		ttl = 1
	}
	s, err := concurrency.NewSession(j.cli, concurrency.WithTTL(ttl), concurrency.WithContext(j.ctx))
	if err != nil {
		return fmt.Errorf("take an etcd lease: %w; check etcd's quorum", err)
	}
	j.mu.Lock()
	old := j.session
	j.session = s
	j.mu.Unlock()
	if old != nil {
		old.Orphan()
	}
	j.log.Info("etcd lease taken", "replica", j.opts.Replica, "lease", fmt.Sprintf("%x", s.Lease()), "ttl_seconds", ttl)
	return nil
}

// SessionLost implements journal.Cluster.
func (j *Journal) SessionLost() <-chan struct{} {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.session.Done()
}

func (j *Journal) lease() clientv3.LeaseID {
	j.mu.Lock()
	defer j.mu.Unlock()
	select {
	case <-j.session.Done():
		return 0
	default:
		return j.session.Lease()
	}
}

// Changes implements journal.Cluster.
func (j *Journal) Changes() <-chan struct{} { return j.changes }

// watchOwners signals Changes whenever an owner key is deleted, which is
// what etcd does when the owner's lease expires.
func (j *Journal) watchOwners() {
	for j.ctx.Err() == nil {
		wc := j.cli.Watch(clientv3.WithRequireLeader(j.ctx), j.key("owner/"), clientv3.WithPrefix(), clientv3.WithFilterPut())
		for wr := range wc {
			if len(wr.Events) > 0 {
				select {
				case j.changes <- struct{}{}:
				default:
				}
			}
		}
		// The watch ends when the member loses its leader; start another.
		select {
		case <-j.ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (j *Journal) key(parts ...string) string {
	k := j.opts.Prefix
	for _, p := range parts {
		k += p
	}
	return k
}

func (j *Journal) observe(op string, start time.Time) {
	j.dur.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

// reqCtx bounds a request and makes a member without a leader fail it at
// once instead of waiting: the webhook must answer 503 quickly when etcd has
// lost its quorum, so Alertmanager retries.
func (j *Journal) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(clientv3.WithRequireLeader(ctx), j.opts.RequestTimeout)
}

func padRev(r uint64) string { return fmt.Sprintf("%020d", r) }

func (j *Journal) seqKey(kind string) string {
	return j.key(kind, "/", fmt.Sprintf("%020d-%s-%08d", time.Now().UnixNano(), j.opts.Replica, j.seq.Add(1)))
}

// Commit implements journal.Journal.
func (j *Journal) Commit(ctx context.Context, b journal.Batch) error {
	return j.CommitClaims(ctx, b, nil)
}

// CommitClaims implements journal.Cluster: one transaction writes the
// batch, guarded by the claims, by this replica's lease on every incident it
// writes (fencing), and by the snapshots' revisions.
func (j *Journal) CommitClaims(ctx context.Context, b journal.Batch, claims []journal.Claim) error {
	start := time.Now()
	defer j.observe("commit", start)
	ctx, cancel := j.reqCtx(ctx)
	defer cancel()
	enc, err := journal.Encode(b)
	if err != nil {
		return err
	}
	var fixed []clientv3.Op
	for _, v := range enc.Alerts {
		fixed = append(fixed, clientv3.OpPut(j.seqKey("alerts"), string(v)))
	}
	for _, v := range enc.Events {
		fixed = append(fixed, clientv3.OpPut(j.seqKey("events"), string(v)))
	}
	opened, joins := map[string]bool{}, map[string]bool{}
	for _, c := range claims {
		if c.Open {
			opened[c.IncidentID] = true
		}
		if c.Join {
			joins[c.IncidentID] = true
		}
	}
	lease := j.lease()
	stale := map[string]bool{}
	for attempt := 0; attempt < 4; attempt++ {
		var cmps []clientv3.Cmp
		ops := append([]clientv3.Op(nil), fixed...)
		for _, c := range claims {
			openKey := j.key("open/", c.Service)
			if c.Join {
				continue // checked through the incident's owner below
			}
			if !c.Open {
				cmps = append(cmps, clientv3.Compare(clientv3.Value(openKey), "=", c.IncidentID))
				continue
			}
			if lease == 0 {
				return fmt.Errorf("open incident for %s: %w", c.Service, journal.ErrFenced)
			}
			// The closed/ compare keeps a replica that has not yet heard of
			// another's completed failover from starting a second one.
			cmps = append(cmps,
				clientv3.Compare(clientv3.CreateRevision(openKey), "=", 0),
				clientv3.Compare(clientv3.ModRevision(j.key("closed/", c.Service)), "=", c.ClosedRev))
			ops = append(ops, clientv3.OpPut(openKey, c.IncidentID),
				clientv3.OpPut(j.key("owner/", c.IncidentID), j.opts.Replica, clientv3.WithLease(lease)))
		}
		for i, inc := range b.Incidents {
			if stale[inc.ID] {
				continue
			}
			if !opened[inc.ID] {
				if lease == 0 {
					return fmt.Errorf("write incident %s: %w", inc.ID, journal.ErrFenced)
				}
				cmps = append(cmps,
					clientv3.Compare(clientv3.LeaseValue(j.key("owner/", inc.ID)), "=", lease),
					clientv3.Compare(clientv3.Value(j.key("rev/", inc.ID)), "<", padRev(inc.Revision)))
			}
			ops = append(ops, clientv3.OpPut(j.key("incidents/", inc.ID), string(enc.Incidents[i])),
				clientv3.OpPut(j.key("rev/", inc.ID), padRev(inc.Revision)))
			if !inc.State.Holds() {
				// Closing frees the slot and records the close, in the same
				// transaction, so no replica can see the slot free while
				// still believing the service runs on its primary.
				if !opened[inc.ID] {
					cmps = append(cmps, clientv3.Compare(clientv3.Value(j.key("open/", inc.Service)), "=", inc.ID))
				}
				ops = append(ops, clientv3.OpDelete(j.key("open/", inc.Service)),
					clientv3.OpPut(j.key("closed/", inc.Service), inc.ID),
					clientv3.OpDelete(j.key("owner/", inc.ID)))
			}
		}
		resp, err := j.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
		if err != nil {
			return fmt.Errorf("write journal to etcd: %w; check etcd's quorum (the sender should retry)", err)
		}
		if resp.Succeeded {
			return nil
		}
		// Find which guard failed: a claim conflict or lost ownership ends
		// the commit; a stale snapshot is dropped (a newer one is stored)
		// and the rest is written.
		if err := j.diagnose(ctx, claims, b.Incidents, opened, joins, stale, lease); err != nil {
			return err
		}
	}
	return errors.New("etcd journal: write kept conflicting; retry")
}

func (j *Journal) diagnose(ctx context.Context, claims []journal.Claim, incs []api.Incident, opened, joins, stale map[string]bool, lease clientv3.LeaseID) error {
	for _, c := range claims {
		if c.Join {
			continue
		}
		open, err := j.cli.Get(ctx, j.key("open/", c.Service))
		if err != nil {
			return fmt.Errorf("read etcd: %w; check etcd's quorum", err)
		}
		holder := ""
		if len(open.Kvs) > 0 {
			holder = string(open.Kvs[0].Value)
		}
		conflict := &journal.ConflictError{Service: c.Service, Holder: holder}
		closed, err := j.cli.Get(ctx, j.key("closed/", c.Service))
		if err != nil {
			return fmt.Errorf("read etcd: %w; check etcd's quorum", err)
		}
		if len(closed.Kvs) > 0 {
			conflict.ClosedRev = closed.Kvs[0].ModRevision
		}
		if conflict.ClosedRev != c.ClosedRev && conflict.ClosedRev != 0 {
			inc, err := j.Incident(ctx, string(closed.Kvs[0].Value))
			if err != nil {
				return err
			}
			conflict.Closed = &inc
		}
		if c.Open && (holder != "" || conflict.ClosedRev != c.ClosedRev) {
			return conflict
		}
		if !c.Open && holder != c.IncidentID {
			return conflict
		}
	}
	for _, inc := range incs {
		if opened[inc.ID] || stale[inc.ID] {
			continue
		}
		resp, err := j.cli.Txn(ctx).Then(clientv3.OpGet(j.key("owner/", inc.ID)), clientv3.OpGet(j.key("rev/", inc.ID))).Commit()
		if err != nil {
			return fmt.Errorf("read etcd: %w; check etcd's quorum", err)
		}
		owner, rev := resp.Responses[0].GetResponseRange(), resp.Responses[1].GetResponseRange()
		owned := len(owner.Kvs) > 0 && clientv3.LeaseID(owner.Kvs[0].Lease) == lease
		newer := len(rev.Kvs) > 0 && string(rev.Kvs[0].Value) >= padRev(inc.Revision)
		switch {
		case newer && (owned || joins[inc.ID]):
			// A newer snapshot is stored (the pipeline moved on, or closed
			// the incident while this delivery joined it): drop this one,
			// as bbolt does.
			stale[inc.ID] = true
		case !owned:
			return fmt.Errorf("write incident %s: %w", inc.ID, journal.ErrFenced)
		}
	}
	return nil
}

// Orphans implements journal.Cluster.
func (j *Journal) Orphans(ctx context.Context) ([]string, error) {
	start := time.Now()
	defer j.observe("orphans", start)
	ctx, cancel := j.reqCtx(ctx)
	defer cancel()
	resp, err := j.cli.Txn(ctx).Then(
		clientv3.OpGet(j.key("open/"), clientv3.WithPrefix()),
		clientv3.OpGet(j.key("owner/"), clientv3.WithPrefix())).Commit()
	if err != nil {
		return nil, fmt.Errorf("list open incidents in etcd: %w", err)
	}
	// An incident owned under this replica's own lease is listed too: a
	// write that timed out (answered 503) may still have been committed
	// when etcd's quorum came back, leaving an incident this replica owns
	// in etcd but does not run.
	lease := j.lease()
	owned := map[string]bool{}
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		if lease == 0 || clientv3.LeaseID(kv.Lease) != lease {
			owned[string(kv.Key[len(j.key("owner/")):])] = true
		}
	}
	var out []string
	for _, kv := range resp.Responses[0].GetResponseRange().Kvs {
		if id := string(kv.Value); !owned[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

// Adopt implements journal.Cluster.
func (j *Journal) Adopt(ctx context.Context, id string) (api.Incident, bool, error) {
	start := time.Now()
	defer j.observe("adopt", start)
	inc, err := j.Incident(ctx, id)
	if err != nil {
		return inc, false, err
	}
	lease := j.lease()
	if lease == 0 {
		return inc, false, fmt.Errorf("adopt %s: %w", id, journal.ErrFenced)
	}
	ctx, cancel := j.reqCtx(ctx)
	defer cancel()
	ownerKey := j.key("owner/", id)
	// Free, or already ours (see Orphans).
	ownerCmp := clientv3.Compare(clientv3.CreateRevision(ownerKey), "=", 0)
	if cur, err := j.cli.Get(ctx, ownerKey); err == nil && len(cur.Kvs) > 0 && clientv3.LeaseID(cur.Kvs[0].Lease) == lease {
		ownerCmp = clientv3.Compare(clientv3.LeaseValue(ownerKey), "=", lease)
	}
	resp, err := j.cli.Txn(ctx).If(
		ownerCmp,
		clientv3.Compare(clientv3.Value(j.key("open/", inc.Service)), "=", id),
	).Then(
		clientv3.OpPut(ownerKey, j.opts.Replica, clientv3.WithLease(lease)),
		clientv3.OpGet(j.key("incidents/", id)),
	).Commit()
	if err != nil {
		return inc, false, fmt.Errorf("adopt incident %s: %w", id, err)
	}
	if !resp.Succeeded {
		return inc, false, nil
	}
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
		if err := json.Unmarshal(kvs[0].Value, &inc); err != nil {
			return inc, false, fmt.Errorf("decode incident %s: %w", id, err)
		}
	}
	return inc, true, nil
}

// Incident implements journal.Journal.
func (j *Journal) Incident(ctx context.Context, id string) (api.Incident, error) {
	start := time.Now()
	defer j.observe("read", start)
	ctx, cancel := j.reqCtx(ctx)
	defer cancel()
	var inc api.Incident
	resp, err := j.cli.Get(ctx, j.key("incidents/", id))
	if err != nil {
		return inc, fmt.Errorf("read incident %s from etcd: %w", id, err)
	}
	if len(resp.Kvs) == 0 {
		return inc, journal.ErrNotFound
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, &inc); err != nil {
		return inc, fmt.Errorf("decode incident %s: %w", id, err)
	}
	return inc, nil
}

// Incidents implements journal.Journal.
func (j *Journal) Incidents(ctx context.Context) ([]api.Incident, error) {
	start := time.Now()
	defer j.observe("read", start)
	ctx, cancel := j.reqCtx(ctx)
	defer cancel()
	resp, err := j.cli.Get(ctx, j.key("incidents/"), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("read incidents from etcd: %w; check etcd's quorum", err)
	}
	out := make([]api.Incident, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var inc api.Incident
		if err := json.Unmarshal(kv.Value, &inc); err != nil {
			return nil, fmt.Errorf("incident %s: %w", kv.Key, err)
		}
		out = append(out, inc)
	}
	journal.SortNewestFirst(out)
	return out, nil
}

func (j *Journal) list(ctx context.Context, kind string, limit int, fn func([]byte) error) error {
	start := time.Now()
	defer j.observe("read", start)
	ctx, cancel := j.reqCtx(ctx)
	defer cancel()
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)}
	if limit > 0 {
		opts = append(opts, clientv3.WithLimit(int64(limit)))
	}
	resp, err := j.cli.Get(ctx, j.key(kind, "/"), opts...)
	if err != nil {
		return fmt.Errorf("read %s from etcd: %w", kind, err)
	}
	for _, kv := range resp.Kvs {
		if err := fn(kv.Value); err != nil {
			return fmt.Errorf("decode %s: %w", kv.Key, err)
		}
	}
	return nil
}

// Alerts implements journal.Journal.
func (j *Journal) Alerts(ctx context.Context, limit int) ([]journal.AlertRecord, error) {
	var out []journal.AlertRecord
	err := j.list(ctx, "alerts", limit, func(v []byte) error {
		var a journal.AlertRecord
		if err := json.Unmarshal(v, &a); err != nil {
			return err
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// Events implements journal.Journal.
func (j *Journal) Events(ctx context.Context, limit int) ([]journal.Event, error) {
	var out []journal.Event
	err := j.list(ctx, "events", limit, func(v []byte) error {
		var e journal.Event
		if err := json.Unmarshal(v, &e); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// Close releases the lease (so other replicas adopt this one's incidents at
// once rather than after the TTL) and disconnects.
func (j *Journal) Close() error {
	j.mu.Lock()
	s := j.session
	j.mu.Unlock()
	if s != nil {
		s.Close()
	}
	j.cancel()
	return j.cli.Close()
}
