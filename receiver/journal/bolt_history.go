package journal

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

var _ History = (*Bolt)(nil)

// pruneBatch bounds the deletions of one write transaction, so a prune
// never holds the writer (and the webhooks' commits behind it) for long.
const pruneBatch = 1000

func openedKey(openedAt time.Time, id string) []byte {
	return append(TimeKey(openedAt), id...)
}

// indexIncidents rebuilds the opening-time index when it does not match
// the incidents: a journal written before the index existed.
func indexIncidents(tx *bolt.Tx) error {
	ib, xb := tx.Bucket(bucketIncidents), tx.Bucket(bucketOpened)
	if ib.Stats().KeyN == xb.Stats().KeyN {
		return nil
	}
	if err := tx.DeleteBucket(bucketOpened); err != nil {
		return err
	}
	xb, err := tx.CreateBucket(bucketOpened)
	if err != nil {
		return err
	}
	return ib.ForEach(func(k, v []byte) error {
		h, err := DecodeHead(v)
		if err != nil {
			return fmt.Errorf("incident %s: %w", k, err)
		}
		return xb.Put(openedKey(h.OpenedAt, string(k)), []byte{})
	})
}

// IncidentsPage implements History: it walks the opening-time index
// backwards from the cursor and reads only the page's snapshots.
func (j *Bolt) IncidentsPage(_ context.Context, limit int, cursor string) ([]api.Incident, string, error) {
	var after []byte
	if cursor != "" {
		var err error
		if after, err = hex.DecodeString(cursor); err != nil {
			return nil, "", fmt.Errorf("incident page cursor %q: %w; start again without a cursor", cursor, err)
		}
	}
	var out []api.Incident
	next := ""
	err := j.db.View(func(tx *bolt.Tx) error {
		ib, c := tx.Bucket(bucketIncidents), tx.Bucket(bucketOpened).Cursor()
		var k []byte
		switch {
		case after == nil:
			k, _ = c.Last()
		default:
			if k, _ = c.Seek(after); k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
		}
		var last []byte
		for ; k != nil && (limit <= 0 || len(out) < limit); k, _ = c.Prev() {
			v := ib.Get(k[12:])
			if v == nil {
				continue
			}
			var inc api.Incident
			if err := json.Unmarshal(v, &inc); err != nil {
				return fmt.Errorf("incident %s: %w", k[12:], err)
			}
			out = append(out, inc)
			last = k
		}
		if k != nil && last != nil {
			next = hex.EncodeToString(last)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("read incidents: %w", err)
	}
	return out, next, nil
}

// RecentAlerts implements History: the alert log read backwards.
func (j *Bolt) RecentAlerts(_ context.Context, limit int) ([]AlertRecord, error) {
	var out []AlertRecord
	err := j.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAlerts).Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			var a AlertRecord
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read journal alerts: %w", err)
	}
	return out, nil
}

// Prune implements History.
func (j *Bolt) Prune(ctx context.Context, before time.Time) (PruneStats, error) {
	var st PruneStats
	defer func() { j.metrics.CountPruned(st) }()
	var err error
	if st.Incidents, err = j.pruneIncidents(ctx, before); err != nil {
		return st, err
	}
	if st.Alerts, err = j.pruneLog(ctx, bucketAlerts, before, func(v []byte) (time.Time, error) {
		var a struct {
			ReceivedAt time.Time `json:"received_at"`
		}
		err := json.Unmarshal(v, &a)
		return a.ReceivedAt, err
	}); err != nil {
		return st, err
	}
	st.Events, err = j.pruneLog(ctx, bucketEvents, before, func(v []byte) (time.Time, error) {
		var e struct {
			Time time.Time `json:"time"`
		}
		err := json.Unmarshal(v, &e)
		return e.Time, err
	})
	return st, err
}

// pruneIncidents deletes what Expired names, each only if its snapshot has
// not changed since it was read.
func (j *Bolt) pruneIncidents(ctx context.Context, before time.Time) (int, error) {
	var heads []Head
	err := j.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIncidents).ForEach(func(k, v []byte) error {
			h, err := DecodeHead(v)
			if err != nil {
				return fmt.Errorf("incident %s: %w", k, err)
			}
			heads = append(heads, h)
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("read incidents: %w", err)
	}
	expired := Expired(heads, before)
	deleted := 0
	for len(expired) > 0 {
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
		run := expired[:min(len(expired), pruneBatch)]
		expired = expired[len(run):]
		n := 0
		err := j.db.Update(func(tx *bolt.Tx) error {
			n = 0
			ib, xb := tx.Bucket(bucketIncidents), tx.Bucket(bucketOpened)
			for _, h := range run {
				cur, err := DecodeHead(ib.Get([]byte(h.ID)))
				if err != nil || cur.Revision != h.Revision {
					continue // gone or changed since it was read
				}
				if err := ib.Delete([]byte(h.ID)); err != nil {
					return err
				}
				if err := xb.Delete(openedKey(cur.OpenedAt, h.ID)); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return deleted, fmt.Errorf("prune incidents: %w; check the disk holding the journal", err)
		}
		deleted += n
	}
	return deleted, nil
}

// pruneLog deletes a log's records from its oldest while their time is
// before the cutoff. Records are appended roughly in time order, so it
// stops at the first newer one instead of reading the whole log.
func (j *Bolt) pruneLog(ctx context.Context, bucket []byte, before time.Time, timeOf func([]byte) (time.Time, error)) (int, error) {
	deleted := 0
	for done := false; !done; {
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
		n := 0
		err := j.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucket)
			var keys [][]byte
			c := b.Cursor()
			k, v := c.First()
			for ; k != nil && len(keys) < pruneBatch; k, v = c.Next() {
				t, err := timeOf(v)
				if err != nil || !t.Before(before) {
					break
				}
				keys = append(keys, bytes.Clone(k))
			}
			done = len(keys) < pruneBatch
			for _, k := range keys {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			n = len(keys)
			return nil
		})
		if err != nil {
			return deleted, fmt.Errorf("prune journal %s: %w; check the disk holding the journal", bucket, err)
		}
		deleted += n
	}
	return deleted, nil
}

// size reads the file's size and each bucket's key count.
func (j *Bolt) size(context.Context) (Size, error) {
	var s Size
	err := j.db.View(func(tx *bolt.Tx) error {
		s.Bytes = tx.Size()
		s.Alerts = int64(tx.Bucket(bucketAlerts).Stats().KeyN)
		s.Events = int64(tx.Bucket(bucketEvents).Stats().KeyN)
		s.Incidents = int64(tx.Bucket(bucketIncidents).Stats().KeyN)
		return nil
	})
	return s, err
}

// Collector implements History.
func (j *Bolt) Collector() prometheus.Collector { return j.metrics }
