package strategy

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// pollEvery is how often StartListening tries the endpoint.
const pollEvery = 10 * time.Millisecond

// StartListening starts the instance and returns once LXD reports it started
// or, usually much sooner, once ep accepts TCP connections.
//
// Why: LXD starts a proxy device's forkproxy after the container runs and
// then polls the forkproxy's log once a second for "Started", so its start
// operation ends about a second after the proxy already listens. Waiting for
// it would add that second to every recovery. A listening proxy means the
// container runs and its proxy works; whether the service behind it is ready
// is the receiver's verify phase's business.
//
// If something already listens on ep before the start (a stale process, a
// leftover container), the port says nothing, and StartListening waits for
// LXD's own answer instead.
func StartListening(ctx context.Context, c *lxd.Client, name string, ep sdk.Endpoint) error {
	target := net.JoinHostPort(ep.Address, strconv.Itoa(ep.Port))
	if accepts(ctx, target) {
		return c.StartInstance(ctx, name)
	}
	return c.StartInstanceReady(ctx, name, lxd.TCPProbe(target), pollEvery)
}

// accepts reports whether a TCP connection to target succeeds right now.
func accepts(ctx context.Context, target string) bool {
	d := net.Dialer{Timeout: 200 * time.Millisecond}
	conn, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}
