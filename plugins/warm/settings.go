package warm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"

	"github.com/vcrcovery/vcrcovery/datasync/syncapi"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
)

// Settings is a service's `strategy.settings` block for the warm strategy.
type Settings struct {
	// Remote names the standby's LXD daemon in the receiver's lxd_remotes.
	Remote string `json:"remote"`
	// Instance is the container's name; empty means the service's name.
	Instance string `json:"instance,omitempty"`
	// Container is accepted as another name for Instance.
	Container string `json:"container,omitempty"`
	// ProxyDevice is the proxy device that exposes the service; empty means
	// "service".
	ProxyDevice string `json:"proxy_device,omitempty"`
	// Address is the service's own address on the standby; empty means one
	// from the remote's address_pool, else the remote's address.
	Address string `json:"address,omitempty"`
	// Sync is the base URL of the vcr-sync daemon that keeps this service's
	// data on the standby (datasync/README.md); empty means the service has
	// no data to promote. At a failover, Prepare promotes the standby's copy
	// there before it returns, so verify already queries the promoted data.
	Sync string `json:"sync,omitempty"`
	// SyncService is the service's name in vcr-sync; empty means the
	// service's name.
	SyncService string `json:"sync_service,omitempty"`
}

// ParseSettings decodes and checks settings. Unknown keys are refused, so a
// typo fails at config load rather than during a recovery.
func ParseSettings(raw json.RawMessage) (Settings, error) {
	var s Settings
	if err := strategy.DecodeStrict(raw, &s); err != nil {
		return s, fmt.Errorf("warm settings: %w", err)
	}
	if err := strategy.MergeAlias(&s.Instance, &s.Container, "instance", "container"); err != nil {
		return s, fmt.Errorf("warm settings: %w", err)
	}
	if s.Remote == "" {
		return s, errors.New("warm settings: remote is required: name the standby's LXD daemon from lxd_remotes")
	}
	if s.Address != "" {
		if _, err := netip.ParseAddr(s.Address); err != nil {
			return s, fmt.Errorf("warm settings: address %q is not an IP address: give the service's own address on the standby, or leave it out", s.Address)
		}
	}
	if s.Sync != "" {
		if err := syncapi.CheckURL(s.Sync); err != nil {
			return s, fmt.Errorf("warm settings: sync: %w", err)
		}
	} else if s.SyncService != "" {
		return s, errors.New("warm settings: sync_service needs sync, the vcr-sync URL")
	}
	if s.ProxyDevice == "" {
		s.ProxyDevice = strategy.DefaultProxyDevice
	}
	return s, nil
}

// InstanceFor returns the configured instance name, or the service's.
func (s Settings) InstanceFor(service string) string {
	if s.Instance != "" {
		return s.Instance
	}
	return service
}

// SyncServiceFor returns the service's name in vcr-sync.
func (s Settings) SyncServiceFor(service string) string {
	if s.SyncService != "" {
		return s.SyncService
	}
	return service
}
