package lifecycle

import (
	"sync"
	"time"
)

// Observation is what the newest lifecycle event said about a domain.
type Observation struct {
	Name   string
	State  int32 // virDomainState
	Reason int32 // the state's virDomain<State>Reason, as vcr_domain_state_reason
	At     time.Time
}

// StateCache holds the state each lifecycle event left behind, so that a
// scrape can prefer an event newer than its own stats snapshot, and can
// still show a transient domain that vanished from libvirt's list when it
// stopped (otherwise its failure would never be visible to the rule path).
type StateCache struct {
	mu        sync.Mutex
	domains   map[string]Observation // by UUID
	retention time.Duration
}

// NewStateCache keeps observations for retention: --events.retention.
func NewStateCache(retention time.Duration) *StateCache {
	return &StateCache{domains: make(map[string]Observation), retention: retention}
}

// Set records the state and reason an event left behind.
func (c *StateCache) Set(uuid, name string, state, reason int32, at time.Time) {
	c.mu.Lock()
	c.domains[uuid] = Observation{Name: name, State: state, Reason: reason, At: at}
	c.mu.Unlock()
}

func (c *StateCache) forget(uuid string) {
	c.mu.Lock()
	delete(c.domains, uuid)
	c.mu.Unlock()
}

func (c *StateCache) get(uuid string) (Observation, bool) {
	c.mu.Lock()
	o, ok := c.domains[uuid]
	c.mu.Unlock()
	return o, ok
}

// Snapshot returns the observations younger than the retention period, by
// UUID, and drops the older ones.
func (c *StateCache) Snapshot(now time.Time) map[string]Observation {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]Observation, len(c.domains))
	for uuid, o := range c.domains {
		if now.Sub(o.At) > c.retention {
			delete(c.domains, uuid)
			continue
		}
		out[uuid] = o
	}
	return out
}
