package api

import (
	"context"
	"net/http"
	"time"

	"github.com/vcrcovery/vcrcovery/internal/humanize"
)

// Capacity is the pre-flight view (GET /api/v1/capacity): for every host
// and every cloud, would the standbys hold its services if it failed now,
// and how long would their recovery take.
type Capacity struct {
	GeneratedAt time.Time `json:"generated_at"`
	// Scopes are the hosts, then the clouds, each sorted by name.
	Scopes []CapacityScope `json:"scopes"`
	// Remotes are the LXD remotes services recover onto, with what their
	// machines have and what is promised there now.
	Remotes []CapacityRemote `json:"remotes"`
}

// Capacity scope kinds.
const (
	ScopeHost  = "host"
	ScopeCloud = "cloud"
)

// CapacityScope answers for one host or cloud.
type CapacityScope struct {
	Scope string `json:"scope"` // "host" or "cloud"
	Name  string `json:"name"`
	// Services are the services that run there.
	Services []string `json:"services"`
	// Fits is true when every service with declared resources would find
	// room, and every standby could be read.
	Fits bool `json:"fits"`
	// ShortfallVCPUs and ShortfallMemoryBytes are what the standbys lack
	// for them all (zero when Fits).
	ShortfallVCPUs       float64 `json:"shortfall_vcpus"`
	ShortfallMemoryBytes int64   `json:"shortfall_memory_bytes"`
	// RecoverySeconds estimates the time from the first prepare to the last
	// one done, from measured or documented per-strategy figures, with the
	// prepares of one standby running Concurrency at a time.
	RecoverySeconds float64 `json:"recovery_seconds"`
	// Targets break the answer down by the remote the services go to.
	Targets []CapacityTarget `json:"targets"`
	// Undeclared are services that declare no resources: not counted.
	Undeclared []string `json:"undeclared,omitempty"`
	// Problems say why the answer may be incomplete (a standby that could
	// not be read), in plain words.
	Problems []string `json:"problems,omitempty"`
}

// Shortfall says what the standbys lack, "2 vCPUs and 1.0 GiB"; empty
// when nothing.
func (s CapacityScope) Shortfall() string {
	return humanize.Resources(s.ShortfallVCPUs, s.ShortfallMemoryBytes)
}

// CapacityTarget is one remote's part in a scope's recovery.
type CapacityTarget struct {
	Remote string `json:"remote"`
	// Services are those the scope's failure would start there; Running
	// those already running there (warm), whose room is held already.
	Services []string `json:"services"`
	Running  []string `json:"running,omitempty"`
	// Need is what the services not yet running there declare; Free is
	// what the remote has not promised yet.
	NeedVCPUs       float64 `json:"need_vcpus"`
	NeedMemoryBytes int64   `json:"need_memory_bytes"`
	FreeVCPUs       float64 `json:"free_vcpus"`
	FreeMemoryBytes int64   `json:"free_memory_bytes"`
	Fits            bool    `json:"fits"`
	// RecoverySeconds is this remote's share of the estimate.
	RecoverySeconds float64 `json:"recovery_seconds"`
}

// CapacityRemote is one LXD remote's machine and what is promised there.
type CapacityRemote struct {
	Name            string  `json:"name"`
	VCPUs           float64 `json:"vcpus"`
	MemoryBytes     int64   `json:"memory_bytes"`
	UsedVCPUs       float64 `json:"used_vcpus"`
	UsedMemoryBytes int64   `json:"used_memory_bytes"`
	// Concurrency is how many prepares the receiver runs there at once.
	Concurrency int `json:"concurrency"`
	// UnlimitedRunning counts the running instances without a CPU limit,
	// which count as using no CPU.
	UnlimitedRunning int `json:"unlimited_running,omitempty"`
	// Error says why the remote could not be read.
	Error string `json:"error,omitempty"`
}

// Capacity fetches the pre-flight view.
func (c *Client) Capacity(ctx context.Context) (Capacity, error) {
	var out Capacity
	return out, c.do(ctx, http.MethodGet, "/api/v1/capacity", &out)
}
