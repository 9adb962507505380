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

	// MaxTxnOps and MaxTxnBytes are the budget of one transaction: a batch
	// beyond it is split (see CommitClaims). They must stay below etcd's
	// --max-txn-ops (128 by default) and --max-request-bytes (1.5 MiB);
	// the defaults, 100 and 1 MiB, leave room for the framing.
	MaxTxnOps   int
	MaxTxnBytes int
}

// Journal implements journal.Cluster on etcd.
//
// Keys, below Prefix:
//
//	alerts/<time>-<replica>-<batch>-<n>, events/...: JSON records, by the
//	  record's time; <batch> is a digest of the batch (see commit.records)
//	incidents/<id>: the newest snapshot; rev/<id>: its revision, zero-padded
//	opened/<newest first>: the incident's ID, listed newest first (pages)
//	open/<service>: the ID of the incident holding the service's slot
//	owner/<id>: the replica running the incident, attached to its lease
//	closed/<service>: the ID of the service's last closed incident
type Journal struct {
	cli  *clientv3.Client
	opts Options
	log  *slog.Logger
	dur  *prometheus.HistogramVec
	// metrics is the size collector History.Collector returns; the
	// receiver registers it.
	metrics *journal.Metrics
	// afterWrite, when set (by tests), runs after each transaction of a
	// split commit: where a failure halfway can be made to happen.
	afterWrite func()

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
	if o.MaxTxnOps <= 0 {
		o.MaxTxnOps = 100
	}
	if o.MaxTxnBytes <= 0 {
		o.MaxTxnBytes = 1 << 20
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
	j.metrics = journal.NewMetrics(j.size)
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
		return nil, j.classify("open the journal on etcd", err, txnSize{})
	}
	if err := j.Renew(sctx); err != nil {
		cli.Close()
		return nil, err
	}
	if err := j.indexIncidents(sctx); err != nil {
		// Only listings by page miss the unindexed incidents; the next
		// start tries again.
		j.log.Warn("could not index the journal's incidents newest first", "err", err)
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
		return j.classify("take an etcd lease", err, txnSize{})
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

// wrote runs the test hook after each transaction of a split commit.
func (j *Journal) wrote() {
	if j.afterWrite != nil {
		j.afterWrite()
	}
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
		return nil, j.classify("list open incidents in etcd", err, txnSize{ops: 2})
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
		return inc, false, j.classify("adopt incident "+id, err, txnSize{})
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
		return inc, j.classify("read incident "+id+" from etcd", err, txnSize{})
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
		return nil, j.classify("read incidents from etcd", err, txnSize{})
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
		return j.classify("read "+kind+" from etcd", err, txnSize{})
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
