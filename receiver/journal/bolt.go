package journal

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

var (
	bucketAlerts    = []byte("alerts")
	bucketEvents    = []byte("events")
	bucketIncidents = []byte("incidents")
	// bucketOpened indexes incidents by opening time: key TimeKey(OpenedAt)
	// followed by the ID, empty value. Read backwards, it lists incidents
	// newest first (IncidentsPage) without reading the others.
	bucketOpened = []byte("incidents-by-opened")
)

// Bolt is the embedded journal, one bbolt file. Commit uses bbolt's Batch,
// so concurrent webhook requests share one fsync instead of paying one each.
type Bolt struct {
	db      *bolt.DB
	metrics *Metrics
}

// OpenBolt opens (creating if needed) the journal file at path. It fails
// within a second if another process holds the file.
func OpenBolt(path string) (*Bolt, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create journal directory %s: %w; check permissions or set journal.path", dir, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open journal %s: the file is locked by another process; stop the other vcr-receiver or use another journal.path", path)
		}
		return nil, fmt.Errorf("open journal %s: %w; check the path and its permissions", path, err)
	}
	// Small batches keep single-request latency low; under load, requests
	// arriving within the delay still share one fsync.
	db.MaxBatchDelay = 2 * time.Millisecond
	db.MaxBatchSize = 1000
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketAlerts, bucketEvents, bucketIncidents, bucketOpened} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return indexIncidents(tx)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise journal %s: %w", path, err)
	}
	j := &Bolt{db: db}
	j.metrics = NewMetrics(j.size)
	return j, nil
}

// Commit implements Journal.
func (j *Bolt) Commit(ctx context.Context, b Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Marshal outside the write transaction: the batch's single writer is the
	// bottleneck, so it should only copy bytes.
	enc, err := Encode(b)
	if err != nil {
		return err
	}
	err = j.db.Batch(func(tx *bolt.Tx) error {
		if err := appendAll(tx.Bucket(bucketAlerts), enc.Alerts); err != nil {
			return err
		}
		if err := appendAll(tx.Bucket(bucketEvents), enc.Events); err != nil {
			return err
		}
		ib, xb := tx.Bucket(bucketIncidents), tx.Bucket(bucketOpened)
		for i, inc := range b.Incidents {
			indexed := false
			if old := ib.Get([]byte(inc.ID)); old != nil {
				var stored struct {
					Revision uint64    `json:"revision"`
					OpenedAt time.Time `json:"opened_at"`
				}
				if err := json.Unmarshal(old, &stored); err == nil {
					if stored.Revision >= inc.Revision {
						continue // a newer snapshot is already stored
					}
					if indexed = stored.OpenedAt.Equal(inc.OpenedAt); !indexed {
						if err := xb.Delete(openedKey(stored.OpenedAt, inc.ID)); err != nil {
							return err
						}
					}
				}
			}
			if err := ib.Put([]byte(inc.ID), enc.Incidents[i]); err != nil {
				return err
			}
			if !indexed {
				if err := xb.Put(openedKey(inc.OpenedAt, inc.ID), []byte{}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write journal: %w; check the disk holding the journal", err)
	}
	return nil
}

func appendAll(b *bolt.Bucket, values [][]byte) error {
	for _, v := range values {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], seq)
		if err := b.Put(k[:], v); err != nil {
			return err
		}
	}
	return nil
}

// Incident implements Journal.
func (j *Bolt) Incident(_ context.Context, id string) (api.Incident, error) {
	var inc api.Incident
	err := j.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketIncidents).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &inc)
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("read incident %s: %w", id, err)
	}
	return inc, err
}

// Incidents implements Journal.
func (j *Bolt) Incidents(_ context.Context) ([]api.Incident, error) {
	var out []api.Incident
	err := j.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIncidents).ForEach(func(k, v []byte) error {
			var inc api.Incident
			if err := json.Unmarshal(v, &inc); err != nil {
				return fmt.Errorf("incident %s: %w", k, err)
			}
			out = append(out, inc)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read incidents: %w", err)
	}
	SortNewestFirst(out)
	return out, nil
}

// Alerts implements Journal.
func (j *Bolt) Alerts(_ context.Context, limit int) ([]AlertRecord, error) {
	var out []AlertRecord
	err := readAll(j.db, bucketAlerts, limit, func(v []byte) error {
		var a AlertRecord
		if err := json.Unmarshal(v, &a); err != nil {
			return err
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// Events implements Journal.
func (j *Bolt) Events(_ context.Context, limit int) ([]Event, error) {
	var out []Event
	err := readAll(j.db, bucketEvents, limit, func(v []byte) error {
		var e Event
		if err := json.Unmarshal(v, &e); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

func readAll(db *bolt.DB, bucket []byte, limit int, fn func([]byte) error) error {
	err := db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		n := 0
		for k, v := c.First(); k != nil && (limit <= 0 || n < limit); k, v = c.Next() {
			if err := fn(v); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read journal %s: %w", bucket, err)
	}
	return nil
}

// Close implements Journal.
func (j *Bolt) Close() error { return j.db.Close() }
