package strategy

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
