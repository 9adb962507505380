package strategy

import (
	"context"
	"fmt"
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
		known := make([]string, 0, len(shared.LXDRemotes))
		for k := range shared.LXDRemotes {
			known = append(known, k)
		}
		return nil, r, fmt.Errorf("LXD remote %q is not configured (known: %v): add it to lxd_remotes in the receiver config", name, known)
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
