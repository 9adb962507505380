package etcd

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

var _ journal.History = (*Journal)(nil)

// pageSize bounds the keys one read of a prune or an index repair returns;
// a prune deletes at most this many records with one range operation.
const pageSize = 500

// openedKey is the incident's key in the newest-first index: etcd lists
// keys in ascending order only, so the key is the complement of the opening
// time, then of the ID (0xff-terminated, so a longer ID sorts first):
// ascending key order is Incidents' order, newest first, ties by ID
// descending.
func (j *Journal) openedKey(openedAt time.Time, id string) string {
	return j.key("opened/", openedCursor(openedAt, id))
}

func openedCursor(openedAt time.Time, id string) string {
	b := append(journal.TimeKey(openedAt), id...)
	for i := range b {
		b[i] = ^b[i]
	}
	return hex.EncodeToString(append(b, 0xff))
}

// IncidentsPage implements journal.History through the opened/ index: one
// range read of at most limit index keys, then the snapshots they name.
func (j *Journal) IncidentsPage(ctx context.Context, limit int, cursor string) ([]api.Incident, string, error) {
	start := time.Now()
	defer j.observe("read", start)
	prefix := j.key("opened/")
	from := prefix
	if cursor != "" {
		from = prefix + cursor + "\x00"
	}
	opts := []clientv3.OpOption{clientv3.WithRange(clientv3.GetPrefixRangeEnd(prefix))}
	if limit > 0 {
		opts = append(opts, clientv3.WithLimit(int64(limit)))
	}
	tctx, cancel := j.reqCtx(ctx)
	resp, err := j.cli.Get(tctx, from, opts...)
	cancel()
	if err != nil {
		return nil, "", j.classify("read the incident index from etcd", err, txnSize{})
	}
	keys := make([]string, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		keys[i] = j.key("incidents/", string(kv.Value))
	}
	kvs, err := j.getKeys(ctx, keys)
	if err != nil {
		return nil, "", err
	}
	out := make([]api.Incident, 0, len(keys))
	for _, k := range keys {
		kv := kvs[k]
		if kv == nil {
			continue // pruned between the two reads
		}
		var inc api.Incident
		if err := json.Unmarshal(kv.Value, &inc); err != nil {
			return nil, "", fmt.Errorf("incident %s: %w", k, err)
		}
		out = append(out, inc)
	}
	next := ""
	if resp.More && len(resp.Kvs) > 0 {
		next = strings.TrimPrefix(string(resp.Kvs[len(resp.Kvs)-1].Key), prefix)
	}
	return out, next, nil
}

// RecentAlerts implements journal.History. etcd lists keys in ascending
// order only, and with a limit only then, so it finds the newest records by
// their keys' time: a window back from now is widened until it holds limit
// records, then narrowed while it holds more than twice as many (index-only
// counts), and only that window's records are read.
func (j *Journal) RecentAlerts(ctx context.Context, limit int) ([]journal.AlertRecord, error) {
	start := time.Now()
	defer j.observe("read", start)
	prefix := j.key("alerts/")
	end := clientv3.GetPrefixRangeEnd(prefix)
	now := time.Now()
	keyAt := func(back time.Duration) string {
		if back >= now.Sub(time.Unix(0, 0)) {
			return prefix
		}
		return j.key("alerts/", fmt.Sprintf("%020d", now.Add(-back).UnixNano()))
	}
	count := func(from string) (int, error) {
		tctx, cancel := j.reqCtx(ctx)
		defer cancel()
		resp, err := j.cli.Get(tctx, from, clientv3.WithRange(end), clientv3.WithCountOnly())
		if err != nil {
			return 0, j.classify("count alert records in etcd", err, txnSize{})
		}
		return int(resp.Count), nil
	}
	from := prefix
	if limit > 0 {
		lo, hi := time.Duration(0), time.Minute
		n, err := count(keyAt(hi))
		for err == nil && n < limit && keyAt(hi) != prefix {
			lo, hi = hi, hi*4
			n, err = count(keyAt(hi))
		}
		for i := 0; err == nil && i < 16 && n > 2*limit && hi-lo > time.Second; i++ {
			mid := lo + (hi-lo)/2
			var m int
			if m, err = count(keyAt(mid)); m >= limit {
				hi, n = mid, m
			} else {
				lo = mid
			}
		}
		if err != nil {
			return nil, err
		}
		from = keyAt(hi)
	}
	tctx, cancel := j.reqCtx(ctx)
	resp, err := j.cli.Get(tctx, from, clientv3.WithRange(end))
	cancel()
	if err != nil {
		return nil, j.classify("read alert records from etcd", err, txnSize{})
	}
	kvs := resp.Kvs
	if limit > 0 && len(kvs) > limit {
		kvs = kvs[len(kvs)-limit:]
	}
	out := make([]journal.AlertRecord, 0, len(kvs))
	for i := len(kvs) - 1; i >= 0; i-- {
		var a journal.AlertRecord
		if err := json.Unmarshal(kvs[i].Value, &a); err != nil {
			return nil, fmt.Errorf("decode %s: %w", kvs[i].Key, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// Prune implements journal.History.
func (j *Journal) Prune(ctx context.Context, before time.Time) (journal.PruneStats, error) {
	start := time.Now()
	defer j.observe("prune", start)
	var st journal.PruneStats
	defer func() { j.metrics.CountPruned(st) }()
	var err error
	if st.Incidents, err = j.pruneIncidents(ctx, before); err != nil {
		return st, err
	}
	if st.Alerts, err = j.pruneLog(ctx, "alerts", before); err != nil {
		return st, err
	}
	st.Events, err = j.pruneLog(ctx, "events", before)
	return st, err
}

// pruneLog deletes the records of a log whose key time is before the
// cutoff, oldest first: one range delete per page read.
func (j *Journal) pruneLog(ctx context.Context, kind string, before time.Time) (int, error) {
	if !before.After(time.Unix(0, 0)) {
		return 0, nil
	}
	from := j.key(kind, "/")
	cut := j.key(kind, "/", fmt.Sprintf("%020d", before.UnixNano()))
	deleted := 0
	for {
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
		tctx, cancel := j.reqCtx(ctx)
		resp, err := j.cli.Get(tctx, from, clientv3.WithRange(cut), clientv3.WithKeysOnly(), clientv3.WithLimit(pageSize))
		if err == nil && len(resp.Kvs) > 0 {
			last := string(resp.Kvs[len(resp.Kvs)-1].Key)
			var del *clientv3.DeleteResponse
			if del, err = j.cli.Delete(tctx, from, clientv3.WithRange(last+"\x00")); err == nil {
				deleted += int(del.Deleted)
			}
		}
		cancel()
		if err != nil {
			return deleted, j.classify("prune "+kind+" in etcd", err, txnSize{ops: 1})
		}
		if !resp.More {
			return deleted, nil
		}
	}
}

// pruneIncidents deletes the incidents journal.Expired names, each only
// while its snapshot is the one read (so never one that changed since),
// and never the one holding its service's slot or named by its last close.
func (j *Journal) pruneIncidents(ctx context.Context, before time.Time) (int, error) {
	heads, modRevs, err := j.heads(ctx)
	if err != nil {
		return 0, err
	}
	tctx, cancel := j.reqCtx(ctx)
	slots, err := j.cli.Txn(tctx).Then(
		clientv3.OpGet(j.key("open/"), clientv3.WithPrefix()),
		clientv3.OpGet(j.key("closed/"), clientv3.WithPrefix())).Commit()
	cancel()
	if err != nil {
		return 0, j.classify("read service slots from etcd", err, txnSize{ops: 2})
	}
	keep := map[string]bool{}
	for _, r := range slots.Responses {
		for _, kv := range r.GetResponseRange().Kvs {
			keep[string(kv.Value)] = true
		}
	}
	var units []unit
	for _, h := range journal.Expired(heads, before) {
		if keep[h.ID] {
			continue
		}
		var u unit
		u.cmp(clientv3.Compare(clientv3.ModRevision(j.key("incidents/", h.ID)), "=", modRevs[h.ID]))
		u.op(clientv3.OpDelete(j.key("incidents/", h.ID)), clientv3.OpDelete(j.key("rev/", h.ID)),
			clientv3.OpDelete(j.openedKey(h.OpenedAt, h.ID)))
		units = append(units, u)
	}
	deleted := 0
	for _, run := range j.packed(units) {
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
		ok, _, err := j.writeUnits(ctx, "prune incidents in etcd", run)
		if err != nil {
			return deleted, err
		}
		if ok {
			deleted += len(run)
			continue
		}
		for _, u := range run { // one changed since it was read: spare only that one
			ok, _, err := j.writeUnits(ctx, "prune incidents in etcd", []unit{u})
			if err != nil {
				return deleted, err
			}
			if ok {
				deleted++
			}
		}
	}
	return deleted, nil
}

// heads reads the head of every incident, a page at a time, with the
// revision its snapshot was written at.
func (j *Journal) heads(ctx context.Context) ([]journal.Head, map[string]int64, error) {
	prefix := j.key("incidents/")
	end := clientv3.GetPrefixRangeEnd(prefix)
	var heads []journal.Head
	modRevs := map[string]int64{}
	for from := prefix; ; {
		tctx, cancel := j.reqCtx(ctx)
		resp, err := j.cli.Get(tctx, from, clientv3.WithRange(end), clientv3.WithLimit(pageSize))
		cancel()
		if err != nil {
			return nil, nil, j.classify("read incidents from etcd", err, txnSize{})
		}
		for _, kv := range resp.Kvs {
			h, err := journal.DecodeHead(kv.Value)
			if err != nil {
				return nil, nil, fmt.Errorf("incident %s: %w", kv.Key, err)
			}
			heads = append(heads, h)
			modRevs[h.ID] = kv.ModRevision
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return heads, modRevs, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// indexIncidents brings the opened/ index in line with the incidents:
// entries for incidents journaled before the index existed (or by an older
// receiver) are added, entries whose incident is gone removed. When both
// counts agree it costs one read.
func (j *Journal) indexIncidents(ctx context.Context) error {
	tctx, cancel := j.reqCtx(ctx)
	counts, err := j.cli.Txn(tctx).Then(
		clientv3.OpGet(j.key("incidents/"), clientv3.WithPrefix(), clientv3.WithCountOnly()),
		clientv3.OpGet(j.key("opened/"), clientv3.WithPrefix(), clientv3.WithCountOnly())).Commit()
	cancel()
	if err != nil {
		return j.classify("count incidents in etcd", err, txnSize{ops: 2})
	}
	if counts.Responses[0].GetResponseRange().Count == counts.Responses[1].GetResponseRange().Count {
		return nil
	}
	heads, _, err := j.heads(ctx)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	var units []unit
	for _, h := range heads {
		k := j.openedKey(h.OpenedAt, h.ID)
		want[k] = true
		var u unit
		u.op(clientv3.OpPut(k, h.ID))
		units = append(units, u)
	}
	prefix := j.key("opened/")
	for from := prefix; ; {
		tctx, cancel := j.reqCtx(ctx)
		resp, err := j.cli.Get(tctx, from, clientv3.WithRange(clientv3.GetPrefixRangeEnd(prefix)), clientv3.WithLimit(pageSize))
		cancel()
		if err != nil {
			return j.classify("read the incident index from etcd", err, txnSize{})
		}
		for _, kv := range resp.Kvs {
			if !want[string(kv.Key)] {
				var u unit // only while the incident is really gone
				u.cmp(clientv3.Compare(clientv3.CreateRevision(j.key("incidents/", string(kv.Value))), "=", 0))
				u.op(clientv3.OpDelete(string(kv.Key)))
				units = append(units, u)
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	for _, u := range units { // one at a time: a failed guard spares only its own entry
		if _, _, err := j.writeUnits(ctx, "index incidents in etcd", []unit{u}); err != nil {
			return err
		}
	}
	return nil
}

// size reads the journal's record counts (index-only counts) and the
// database size of the first member that answers.
func (j *Journal) size(ctx context.Context) (journal.Size, error) {
	var s journal.Size
	tctx, cancel := j.reqCtx(ctx)
	defer cancel()
	resp, err := j.cli.Txn(tctx).Then(
		clientv3.OpGet(j.key("alerts/"), clientv3.WithPrefix(), clientv3.WithCountOnly()),
		clientv3.OpGet(j.key("events/"), clientv3.WithPrefix(), clientv3.WithCountOnly()),
		clientv3.OpGet(j.key("incidents/"), clientv3.WithPrefix(), clientv3.WithCountOnly())).Commit()
	if err != nil {
		return s, j.classify("count journal records in etcd", err, txnSize{ops: 3})
	}
	s.Alerts = resp.Responses[0].GetResponseRange().Count
	s.Events = resp.Responses[1].GetResponseRange().Count
	s.Incidents = resp.Responses[2].GetResponseRange().Count
	errs := []error{errors.New("no etcd member answered")}
	for _, ep := range slices.Clone(j.cli.Endpoints()) {
		st, err := j.cli.Status(tctx, ep)
		if err == nil {
			s.Bytes = st.DbSize
			return s, nil
		}
		errs = append(errs, err)
	}
	return s, errors.Join(errs...)
}

// Collector implements journal.History.
func (j *Journal) Collector() prometheus.Collector { return j.metrics }
