package exportertest

import (
	"sync"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
)

// RecordingSink is a failure.Sink that remembers the fast path's decisions.
type RecordingSink struct {
	mu       sync.Mutex
	fired    []string // alertname/domain
	resolved []string // domain
}

func (r *RecordingSink) Fire(ev failure.DomainEvent, alertname string) {
	r.mu.Lock()
	r.fired = append(r.fired, alertname+"/"+ev.Domain)
	r.mu.Unlock()
}

func (r *RecordingSink) Resolve(ev failure.DomainEvent) {
	r.mu.Lock()
	r.resolved = append(r.resolved, ev.Domain)
	r.mu.Unlock()
}

// Snapshot returns the fired alerts as "alertname/domain" and the resolved
// domains, in order.
func (r *RecordingSink) Snapshot() (fired, resolved []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.fired...), append([]string(nil), r.resolved...)
}
