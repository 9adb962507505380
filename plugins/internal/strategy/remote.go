package strategy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// requestTimeout bounds each plain LXD request, so a hung daemon fails a
// recovery in seconds instead of the client's default half minute.
const requestTimeout = 10 * time.Second

// ConnectRemote connects to the LXD remote called name in shared. The error
// names the remote and says what to check.
func ConnectRemote(ctx context.Context, shared sdk.SharedSettings, name string) (*lxd.Client, sdk.LXDRemote, error) {
	r, ok := shared.LXDRemotes[name]
	if !ok {
		return nil, r, fmt.Errorf("LXD remote %q is not configured (known: %s): add it to lxd_remotes in the receiver config", name, knownRemotes(shared))
	}
	c, err := lxd.Connect(ctx, lxd.Config{
		Socket: r.Socket, URL: r.URL,
		ClientCert: r.ClientCert, ClientKey: r.ClientKey, ServerCert: r.ServerCert,
		Timeout: requestTimeout,
	})
	if err != nil {
		return nil, r, fmt.Errorf("LXD remote %q unreachable: %w: check that its daemon runs and that lxd_remotes.%s is right", name, err, name)
	}
	return c, r, nil
}

// CheckRemotes is ValidateConfig's check that the remotes a service's
// settings name exist: names maps each settings key ("remote", "source")
// to the remote it names, and an empty name is skipped. A host that speaks
// protocol version 1 sends no shared settings; then there is nothing to
// check against, and a wrong name shows only when Prepare connects.
func CheckRemotes(rawShared json.RawMessage, names map[string]string) error {
	if len(bytes.TrimSpace(rawShared)) == 0 {
		return nil
	}
	shared, err := ParseShared(rawShared)
	if err != nil {
		return err
	}
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(names)) {
		name := names[key]
		if _, ok := shared.LXDRemotes[name]; name != "" && !ok {
			errs = append(errs, fmt.Errorf("%s: LXD remote %q is not in lxd_remotes (known: %s): fix the name, or add the remote to lxd_remotes", key, name, knownRemotes(shared)))
		}
	}
	return errors.Join(errs...)
}

// knownRemotes lists the configured remotes for an error message.
func knownRemotes(shared sdk.SharedSettings) string {
	if len(shared.LXDRemotes) == 0 {
		return "none"
	}
	return strings.Join(slices.Sorted(maps.Keys(shared.LXDRemotes)), ", ")
}
