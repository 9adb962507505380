package main

// RPO, which the paper did not measure: a client inserts rows into the
// primary's database and records each commit the primary acknowledged, until
// the destroy. After the recovery, the acknowledged rows present on the
// recovered database are counted.

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vcrcovery/vcrcovery/test/system"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// writer inserts numbered rows one after another and records when each was
// acknowledged.
type writer struct {
	db      *sql.DB
	stopped atomic.Bool
	done    chan struct{}
	mu      sync.Mutex
	acks    map[int]time.Time
}

func startWriter(db *sql.DB) *writer {
	w := &writer{db: db, done: make(chan struct{}), acks: map[int]time.Time{}}
	go func() {
		defer close(w.done)
		for id := 1; !w.stopped.Load(); id++ {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := w.db.ExecContext(ctx, "INSERT INTO "+system.OrdersTable+" VALUES (?, 'rpo')", id)
			cancel()
			if err == nil {
				at := time.Now()
				w.mu.Lock()
				w.acks[id] = at
				w.mu.Unlock()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return w
}

// stop ends the writes (the primary is gone: the last ones fail) and waits
// for the one in flight.
func (w *writer) stop() {
	w.stopped.Store(true)
	<-w.done
	w.db.Close()
}

// rpoResult is what the recovered database holds of what was acknowledged.
type rpoResult struct {
	acked, present int
	// lostOldest is how long before the destroy the oldest lost row was
	// acknowledged (0: nothing lost); lastAck how long before the destroy the
	// last acknowledgement came.
	lostOldest, lastAck time.Duration
	backupAge           time.Duration // cold: the data backup's age at the destroy
}

func (r rpoResult) lost() int { return r.acked - r.present }

func (r rpoResult) String() string {
	s := fmt.Sprintf("%d acknowledged, %d present, %d lost", r.acked, r.present, r.lost())
	if r.lost() > 0 {
		s += fmt.Sprintf(" (the oldest lost acknowledged %s before the destroy)", r.lostOldest.Round(time.Millisecond))
	}
	return s
}

// check counts the acknowledged rows present on the database at addr.
func (w *writer) check(r *testenv.Runner, addr string, destroyed time.Time) rpoResult {
	db := system.OpenSQL(addr)
	defer db.Close()
	present := map[int]bool{}
	var err error
	for range 20 {
		if err = readIDs(db, present); err == nil {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		r.Fatalf("read the recovered database at %s: %v", addr, err)
	}
	res := rpoResult{acked: len(w.acks), lastAck: -1}
	for id, at := range w.acks {
		before := destroyed.Sub(at)
		if res.lastAck < 0 || before < res.lastAck {
			res.lastAck = before
		}
		if present[id] {
			res.present++
		} else if before > res.lostOldest {
			res.lostOldest = before
		}
	}
	return res
}

func readIDs(db *sql.DB, into map[int]bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, "SELECT id FROM "+system.OrdersTable+" WHERE note = 'rpo'")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			return err
		}
		into[id] = true
	}
	return rows.Err()
}
