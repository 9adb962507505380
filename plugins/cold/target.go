package cold

import (
	"context"
	"errors"
	"fmt"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/backupstore"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
	"github.com/vcrcovery/vcrcovery/plugins/ownership"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// target chooses where the service is restored and reserves its room
// there: the standby; or, when the standby has no room for what the service
// declared and overflow_remote names a bigger VM, that VM. An attempt of
// the same incident that already restored onto the bigger VM is finished
// there. A service that declared nothing goes to the standby unchecked.
func target(ctx context.Context, s backupstore.Settings, shared sdk.SharedSettings, req sdk.PrepareRequest, progress sdk.ProgressFunc) (*restorer, error) {
	name := s.InstanceFor(req.Service)
	need, declared := strategy.Declared(shared, req.Service)
	at := func(remoteName string, c *lxd.Client, remote sdk.LXDRemote, address string) *restorer {
		return &restorer{c: c, remoteName: remoteName, remote: remote, address: address, need: need, declared: declared,
			settings: s, req: req, progress: progress}
	}
	var big *lxd.Client
	var bigRemote sdk.LXDRemote
	if declared && s.OverflowRemote != "" {
		var err error
		if big, bigRemote, err = strategy.ConnectRemote(ctx, shared, s.OverflowRemote); err != nil {
			strategy.Report(progress, "overflow remote %s unreachable (%v); the standby must hold %s", s.OverflowRemote, err, name)
			big = nil
		} else if inst, _, err := big.GetInstance(ctx, name); err == nil && ownership.Of(inst).IsIncident(req.Service, req.IncidentID) {
			strategy.Report(progress, "an earlier attempt of this incident restored %s onto %s", name, s.OverflowRemote)
			return at(s.OverflowRemote, big, bigRemote, ""), nil
		}
	}
	c, remote, err := strategy.ConnectRemote(ctx, shared, s.Remote)
	if err != nil {
		return nil, err
	}
	if !declared {
		return at(s.Remote, c, remote, s.Address), nil
	}
	room, err := strategy.Reserve(ctx, c, s.Remote, name, need)
	if err == nil {
		strategy.Report(progress, "room for %s (%s) on %s: %s", name, strategy.Describe(need), s.Remote, room)
		return at(s.Remote, c, remote, s.Address), nil
	}
	if !errors.Is(err, sdk.ErrNeedsAttention) || big == nil {
		return nil, err
	}
	strategy.Report(progress, "%v; restoring onto the overflow remote %s instead", err, s.OverflowRemote)
	bigRoom, bigErr := strategy.Reserve(ctx, big, s.OverflowRemote, name, need)
	if bigErr != nil {
		return nil, fmt.Errorf("%w; and on the overflow remote: %w", err, bigErr)
	}
	strategy.Report(progress, "room for %s (%s) on %s: %s", name, strategy.Describe(need), s.OverflowRemote, bigRoom)
	// The service's own address is the standby's; on the bigger VM it
	// gets one of that VM's.
	return at(s.OverflowRemote, big, bigRemote, ""), nil
}
