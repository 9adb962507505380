package strategy

import (
	"context"
	"errors"
	"fmt"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

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
