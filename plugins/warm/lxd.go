package warm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
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

// ProxyEndpoint reads the service endpoint off inst's proxy device. A
// wildcard listen address (0.0.0.0, ::) is replaced by fallback, the address
// the remote's "VM" owns.
func ProxyEndpoint(inst *lxd.Instance, device, fallback string) (sdk.Endpoint, error) {
	listen, err := inst.ProxyListen(device)
	if err != nil {
		return sdk.Endpoint{}, err
	}
	network, addr, err := lxd.ProxyAddress(listen)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("instance %q device %q: %w", inst.Name, device, err)
	}
	if network != "tcp" {
		return sdk.Endpoint{}, fmt.Errorf("instance %q device %q listens on %s: the receiver can only switch DNS to a TCP endpoint", inst.Name, device, listen)
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("instance %q device %q: listen %q: %w", inst.Name, device, listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return sdk.Endpoint{}, fmt.Errorf("instance %q device %q: listen %q has no single port; use one port per service", inst.Name, device, listen)
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		if fallback == "" {
			return sdk.Endpoint{}, fmt.Errorf("instance %q device %q listens on %q, not one address: set the remote's address in lxd_remotes or make the proxy listen on one IP", inst.Name, device, host)
		}
		host = fallback
	}
	return sdk.Endpoint{Address: host, Port: port}, nil
}

// EnsureRunning starts (or unfreezes) the instance unless it already runs. It
// returns the status it found. With ep set, a start returns as soon as ep
// accepts connections (see StartListening).
func EnsureRunning(ctx context.Context, c *lxd.Client, name string, ep *sdk.Endpoint, progress sdk.ProgressFunc) (string, error) {
	st, err := c.GetInstanceState(ctx, name)
	if err != nil {
		if errors.Is(err, lxd.ErrNotFound) {
			return "", fmt.Errorf("instance %q does not exist on %s: create it on the standby, or use the cold strategy to restore it from a backup", name, c.Target())
		}
		return "", err
	}
	switch st.StatusCode {
	case lxd.StatusRunning:
		Report(progress, "instance %s already running", name)
		return st.Status, nil
	case lxd.StatusFrozen:
		Report(progress, "instance %s frozen; unfreezing", name)
		return st.Status, c.UnfreezeInstance(ctx, name)
	}
	Report(progress, "instance %s is %s; starting it", name, st.Status)
	start := func() error { return c.StartInstance(ctx, name) }
	if ep != nil {
		start = func() error { return StartListening(ctx, c, name, *ep) }
	}
	if err := start(); err != nil {
		// Someone (a second recovery, an operator) may have started it
		// meanwhile; that is success, not failure.
		if st2, err2 := c.GetInstanceState(ctx, name); err2 == nil && st2.Running() {
			return st.Status, nil
		}
		return st.Status, fmt.Errorf("%w: see `lxc info --show-log %s` on the standby", err, name)
	}
	return st.Status, nil
}

// Report sends a formatted progress message if progress is set.
func Report(progress sdk.ProgressFunc, format string, args ...any) {
	if progress != nil {
		progress(sdk.Progress{Time: time.Now(), Message: fmt.Sprintf(format, args...)})
	}
}
