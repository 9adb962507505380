package exporter

import (
	"sync"
	"time"
)

// domainObservation is what the newest lifecycle event said about a domain.
type domainObservation struct {
	name  string
	state int32
	at    time.Time
}

// stateCache holds the state each lifecycle event left behind, so that a
// scrape can prefer an event newer than its own stats snapshot, and can
// still show a transient domain that vanished from libvirt's list when it
// stopped (otherwise its failure would never be visible to the rule path).
type stateCache struct {
	mu        sync.Mutex
	domains   map[string]domainObservation // by UUID
	retention time.Duration
}

func newStateCache(retention time.Duration) *stateCache {
	return &stateCache{domains: make(map[string]domainObservation), retention: retention}
}

func (c *stateCache) set(uuid, name string, state int32, at time.Time) {
	c.mu.Lock()
	c.domains[uuid] = domainObservation{name: name, state: state, at: at}
	c.mu.Unlock()
}

func (c *stateCache) forget(uuid string) {
	c.mu.Lock()
	delete(c.domains, uuid)
	c.mu.Unlock()
}

func (c *stateCache) get(uuid string) (domainObservation, bool) {
	c.mu.Lock()
	o, ok := c.domains[uuid]
	c.mu.Unlock()
	return o, ok
}

// snapshot returns the observations younger than the retention period and
// drops the older ones.
func (c *stateCache) snapshot(now time.Time) map[string]domainObservation {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]domainObservation, len(c.domains))
	for uuid, o := range c.domains {
		if now.Sub(o.at) > c.retention {
			delete(c.domains, uuid)
			continue
		}
		out[uuid] = o
	}
	return out
}
