package scaleup

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
)

// Live migration modes.
const (
	LiveAuto = "auto" // try CRIU, fall back to stateless on failure
	LiveOff  = "off"  // stateless only
	LiveOnly = "only" // CRIU or fail
)

// Settings is a service's `strategy.settings` block for scale-up.
type Settings struct {
	// Source and Target name the standby and the bigger VM in lxd_remotes.
	Source string `json:"source"`
	Target string `json:"target"`
	// From and To are accepted as other names for Source and Target.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Instance is the service's own container (its endpoint is what Prepare
	// returns); empty means the service's name.
	Instance string `json:"instance,omitempty"`
	// Container is accepted as another name for Instance.
	Container string `json:"container,omitempty"`
	// Candidates are the containers this service may move, all of which
	// must be reachable under this service's DNS name or need no DNS at all.
	// Empty means just Instance.
	Candidates []string `json:"candidates,omitempty"`
	// MaxMoves caps how many candidates move (default 1); TargetLoad (cores)
	// is the load under which the source counts as relieved.
	MaxMoves   int     `json:"max_moves,omitempty"`
	TargetLoad float64 `json:"target_load,omitempty"`
	// SampleInterval is the gap between the two CPU samples (default 500ms).
	SampleInterval Duration `json:"sample_interval,omitempty"`
	// Live is "auto" (default), "off" or "only".
	Live string `json:"live,omitempty"`
	// ProxyDevice is the proxy device that exposes each container; its
	// listen address is rewritten to the target's address.
	ProxyDevice string `json:"proxy_device,omitempty"`
	// TargetAddress is the service's own address on the target; empty
	// means one from the target's address_pool, else the target's address.
	TargetAddress string `json:"target_address,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("500ms").
type Duration time.Duration

// UnmarshalJSON accepts "500ms" style strings.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string like \"500ms\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// ParseSettings decodes and checks settings, refusing unknown keys.
func ParseSettings(raw json.RawMessage) (Settings, error) {
	var s Settings
	if err := strategy.DecodeStrict(raw, &s); err != nil {
		return s, fmt.Errorf("scaleup settings: %w", err)
	}
	for _, a := range []struct {
		canonical, alias *string
		cn, an           string
	}{{&s.Source, &s.From, "source", "from"}, {&s.Target, &s.To, "target", "to"}, {&s.Instance, &s.Container, "instance", "container"}} {
		if err := strategy.MergeAlias(a.canonical, a.alias, a.cn, a.an); err != nil {
			return s, fmt.Errorf("scaleup settings: %w", err)
		}
	}
	switch {
	case s.Source == "" || s.Target == "":
		return s, errors.New("scaleup settings: source and target are required: name the standby and the bigger VM from lxd_remotes")
	case s.Source == s.Target:
		return s, fmt.Errorf("scaleup settings: source and target are both %q: the target must be another LXD daemon", s.Source)
	case s.MaxMoves < 0:
		return s, fmt.Errorf("scaleup settings: max_moves=%d: give a positive number", s.MaxMoves)
	case s.TargetLoad < 0:
		return s, fmt.Errorf("scaleup settings: target_load=%v: give cores >= 0", s.TargetLoad)
	case s.SampleInterval < 0 || time.Duration(s.SampleInterval) > time.Minute:
		return s, fmt.Errorf("scaleup settings: sample_interval=%s: give 10ms..1m", time.Duration(s.SampleInterval))
	}
	if s.TargetAddress != "" {
		if _, err := netip.ParseAddr(s.TargetAddress); err != nil {
			return s, fmt.Errorf("scaleup settings: target_address %q is not an IP address: give the service's own address on the bigger VM, or leave it out", s.TargetAddress)
		}
	}
	switch s.Live {
	case "":
		s.Live = LiveAuto
	case LiveAuto, LiveOff, LiveOnly:
	default:
		return s, fmt.Errorf("scaleup settings: live=%q: want auto, off or only", s.Live)
	}
	if s.MaxMoves == 0 {
		s.MaxMoves = 1
	}
	if s.SampleInterval == 0 {
		s.SampleInterval = Duration(500 * time.Millisecond)
	}
	if time.Duration(s.SampleInterval) < 10*time.Millisecond {
		return s, fmt.Errorf("scaleup settings: sample_interval=%s: too short to measure CPU; give at least 10ms", time.Duration(s.SampleInterval))
	}
	if s.ProxyDevice == "" {
		s.ProxyDevice = strategy.DefaultProxyDevice
	}
	return s, nil
}

func (s Settings) instance(service string) string {
	if s.Instance != "" {
		return s.Instance
	}
	return service
}

func (s Settings) candidates(service string) []string {
	if len(s.Candidates) > 0 {
		return s.Candidates
	}
	return []string{s.instance(service)}
}
