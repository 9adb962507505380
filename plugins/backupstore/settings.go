package backupstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"

	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
)

// DefaultKeep is how many backups per service Prune keeps when the settings
// do not say.
const DefaultKeep = 7

// Settings is a service's `strategy.settings` block for the cold strategy
// (plugins/cold/README.md). It lives here, beside the store, because two
// readers share it: the cold strategy restores the service from its backups,
// and `vcrctl backup` (CreateForService) makes and prunes them.
type Settings struct {
	// Remote names the standby LXD daemon (in lxd_remotes) to restore into.
	Remote string `json:"remote"`
	// Instance is the container's name on the standby; empty means the
	// service's name.
	Instance string `json:"instance,omitempty"`
	// Container is accepted as another name for Instance.
	Container string `json:"container,omitempty"`
	// ProxyDevice is the proxy device that exposes the service; empty means
	// "service". Its listen address is rewritten to the standby's address.
	ProxyDevice string `json:"proxy_device,omitempty"`
	// Backup names the service's folder in the backup store; empty means the
	// service's name.
	Backup string `json:"backup,omitempty"`
	// SourceRemote and SourceInstance say where `vcrctl backup create`
	// (CreateForService) exports from: the primary's LXD and container. Empty
	// means Remote and Instance.
	SourceRemote   string `json:"source_remote,omitempty"`
	SourceInstance string `json:"source_instance,omitempty"`
	// Keep is the retention: how many backups CreateForService leaves after
	// pruning. Zero means DefaultKeep.
	Keep int `json:"keep,omitempty"`
	// Address is the service's own address on the standby; empty means one
	// from the remote's address_pool, else the remote's address.
	Address string `json:"address,omitempty"`
	// OverflowRemote names a bigger VM's LXD (in lxd_remotes) to restore
	// into when the standby has no room for the service's declared
	// resources; empty means such a recovery needs attention instead.
	OverflowRemote string `json:"overflow_remote,omitempty"`
}

// ParseSettings decodes and checks settings, refusing unknown keys.
func ParseSettings(raw json.RawMessage) (Settings, error) {
	var s Settings
	if err := strategy.DecodeStrict(raw, &s); err != nil {
		return s, fmt.Errorf("cold settings: %w", err)
	}
	if err := strategy.MergeAlias(&s.Instance, &s.Container, "instance", "container"); err != nil {
		return s, fmt.Errorf("cold settings: %w", err)
	}
	if s.Remote == "" {
		return s, errors.New("cold settings: remote is required: name the standby LXD daemon (from lxd_remotes) to restore into")
	}
	if s.ProxyDevice == "" {
		s.ProxyDevice = strategy.DefaultProxyDevice
	}
	if s.Keep < 0 {
		return s, fmt.Errorf("cold settings: keep=%d: give a positive number of backups to keep", s.Keep)
	}
	if s.Keep == 0 {
		s.Keep = DefaultKeep
	}
	if s.Address != "" {
		if _, err := netip.ParseAddr(s.Address); err != nil {
			return s, fmt.Errorf("cold settings: address %q is not an IP address: give the service's own address on the standby, or leave it out", s.Address)
		}
	}
	if s.OverflowRemote != "" && s.OverflowRemote == s.Remote {
		return s, fmt.Errorf("cold settings: overflow_remote is the standby %q itself: name a bigger VM's remote, or leave it out", s.Remote)
	}
	if s.Backup != "" {
		if err := ValidService(s.Backup); err != nil {
			return s, fmt.Errorf("cold settings: backup: %w", err)
		}
	}
	return s, nil
}

// InstanceFor returns the container's name on the standby: the configured
// instance, or the service's name.
func (s Settings) InstanceFor(service string) string {
	if s.Instance != "" {
		return s.Instance
	}
	return service
}

// FolderFor returns the service's folder in the store: the configured
// backup name, or the service's name.
func (s Settings) FolderFor(service string) string {
	if s.Backup != "" {
		return s.Backup
	}
	return service
}

// SourceFor returns the LXD remote and instance backups of service are
// exported from: the source_* keys, else the standby's remote and instance.
func (s Settings) SourceFor(service string) (remote, instance string) {
	remote, instance = s.SourceRemote, s.SourceInstance
	if remote == "" {
		remote = s.Remote
	}
	if instance == "" {
		instance = s.InstanceFor(service)
	}
	return remote, instance
}
