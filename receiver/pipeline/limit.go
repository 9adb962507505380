package pipeline

import (
	"container/heap"
	"context"
	"hash/fnv"
	"sync"
)

// Limiter bounds how many incidents use one target at once: the prepares
// running on one standby, the UPDATEs in flight to one DNS server. When a
// host or a cloud fails, hundreds of incidents start together; without a
// bound they would all hit the standby's LXD at once, and BIND drops the
// UPDATEs beyond its update-quota (100 by default) without an answer, so
// those wait a whole DNS timeout before their retry. Incidents waiting for
// a slot get it most important first (Rank).
type Limiter struct {
	mu      sync.Mutex
	targets map[string]*target
	seq     uint64
}

// Rank orders the incidents waiting for a slot: higher Priority first;
// equal priorities in the order of a hash of the service's name, which is
// the same in every run and favours neither a name's letters nor its place
// in the configuration.
type Rank struct {
	Priority int
	Service  string
}

// RankOf is the rank of a service's incidents.
func RankOf(priority int, service string) Rank { return Rank{Priority: priority, Service: service} }

type target struct {
	busy, limit int
	queue       waiters
}

type waiter struct {
	prio    int
	tie     uint64
	seq     uint64
	ready   chan struct{}
	granted bool
	index   int
}

// NewLimiter returns a limiter with no slot in use.
func NewLimiter() *Limiter { return &Limiter{targets: map[string]*target{}} }

// Acquire waits until fewer than limit slots of name are in use (and no
// more important incident waits), takes one and returns the function that
// gives it back. It returns ctx's error if ctx ends first. waited says
// whether it had to queue.
func (l *Limiter) Acquire(ctx context.Context, name string, limit int, r Rank) (release func(), waited bool, err error) {
	limit = max(limit, 1)
	l.mu.Lock()
	t := l.targets[name]
	if t == nil {
		t = &target{}
		l.targets[name] = t
	}
	t.limit = limit
	rel := func() { l.release(name) }
	if t.busy < limit && t.queue.Len() == 0 {
		t.busy++
		l.mu.Unlock()
		return onlyOnce(rel), false, nil
	}
	h := fnv.New64a()
	h.Write([]byte(r.Service))
	l.seq++
	w := &waiter{prio: r.Priority, tie: h.Sum64(), seq: l.seq, ready: make(chan struct{})}
	heap.Push(&t.queue, w)
	l.mu.Unlock()
	select {
	case <-w.ready:
		return onlyOnce(rel), true, nil
	case <-ctx.Done():
		l.mu.Lock()
		granted := w.granted
		if !granted {
			heap.Remove(&t.queue, w.index)
		}
		l.mu.Unlock()
		if granted {
			rel()
		}
		return nil, true, ctx.Err()
	}
}

// InUse reports the slots of name in use and the incidents waiting.
func (l *Limiter) InUse(name string) (busy, waiting int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t := l.targets[name]; t != nil {
		return t.busy, t.queue.Len()
	}
	return 0, 0
}

// release gives a slot back and hands free slots to the most important
// waiters.
func (l *Limiter) release(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.targets[name]
	t.busy--
	for t.busy < t.limit && t.queue.Len() > 0 {
		w := heap.Pop(&t.queue).(*waiter)
		w.granted = true
		t.busy++
		close(w.ready)
	}
}

func onlyOnce(f func()) func() {
	var once sync.Once
	return func() { once.Do(f) }
}

// waiters is a heap: the most important waiter first, then the earlier.
type waiters []*waiter

func (q waiters) Len() int { return len(q) }
func (q waiters) Less(i, j int) bool {
	a, b := q[i], q[j]
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	if a.tie != b.tie {
		return a.tie < b.tie
	}
	return a.seq < b.seq
}
func (q waiters) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *waiters) Push(x any) {
	w := x.(*waiter)
	w.index = len(*q)
	*q = append(*q, w)
}
func (q *waiters) Pop() any {
	old := *q
	w := old[len(old)-1]
	*q = old[:len(old)-1]
	return w
}
