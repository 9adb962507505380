package warm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// DefaultProxyDevice is the proxy device name the strategies read the
// service's endpoint from when the settings name none.
const DefaultProxyDevice = "service"

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
}

// ParseSettings decodes and checks settings. Unknown keys are refused, so a
// typo fails at config load rather than during a recovery.
func ParseSettings(raw json.RawMessage) (Settings, error) {
	var s Settings
	if err := DecodeStrict(raw, &s); err != nil {
		return s, fmt.Errorf("warm settings: %w", err)
	}
	if err := MergeAlias(&s.Instance, &s.Container, "instance", "container"); err != nil {
		return s, fmt.Errorf("warm settings: %w", err)
	}
	if s.Remote == "" {
		return s, errors.New("warm settings: remote is required: name the standby's LXD daemon from lxd_remotes")
	}
	if s.ProxyDevice == "" {
		s.ProxyDevice = DefaultProxyDevice
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

// DecodeStrict decodes JSON into v refusing unknown fields and trailing data.
// Empty input decodes as an empty object.
func DecodeStrict(raw json.RawMessage, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		raw = json.RawMessage("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%v (check the key names and types against the strategy's README)", err)
	}
	if dec.More() {
		return errors.New("trailing data after the settings object")
	}
	return nil
}

// ParseShared decodes the receiver-wide settings a strategy gets with each
// request.
func ParseShared(raw json.RawMessage) (sdk.SharedSettings, error) {
	var s sdk.SharedSettings
	if len(bytes.TrimSpace(raw)) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("shared settings from the receiver: %w", err)
	}
	return s, nil
}

// ParseRequest decodes a request's strategy settings with parse and its
// receiver-wide shared settings: what every built-in strategy does first in
// Prepare, Finalize and its offline commands.
func ParseRequest[S any](settings, shared json.RawMessage, parse func(json.RawMessage) (S, error)) (S, sdk.SharedSettings, error) {
	s, err := parse(settings)
	if err != nil {
		return s, sdk.SharedSettings{}, err
	}
	sh, err := ParseShared(shared)
	return s, sh, err
}

// MergeAlias folds an alias key into its canonical one: *alias moves into
// *canonical, and both set to different values is an error.
func MergeAlias(canonical, alias *string, canonicalName, aliasName string) error {
	if *alias == "" {
		return nil
	}
	if *canonical != "" && *canonical != *alias {
		return fmt.Errorf("%s=%q and %s=%q disagree: %s is another name for %s, set only one", canonicalName, *canonical, aliasName, *alias, aliasName, canonicalName)
	}
	*canonical, *alias = *alias, ""
	return nil
}
