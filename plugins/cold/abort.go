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

// Abort implements sdk.Strategy: it removes the instance this incident
// restored, and a staging copy an interrupted import of this incident left,
// on the standby and on the overflow remote, and frees the room reserved for
// it. An instance restored by an earlier incident, adopted by an operator
// or not VCRcovery's at all stays where it is.
func (Strategy) Abort(ctx context.Context, req sdk.AbortRequest) error {
	s, shared, err := strategy.ParseRequest(req.Settings, req.Shared, backupstore.ParseSettings)
	if err != nil {
		return err
	}
	name := s.InstanceFor(req.Service)
	remotes := []string{s.Remote}
	if s.OverflowRemote != "" {
		remotes = append(remotes, s.OverflowRemote)
	}
	for _, remote := range remotes {
		c, _, err := strategy.ConnectRemote(ctx, shared, remote)
		if err != nil {
			return fmt.Errorf("cold %s abort: %w; remove the instance restored in incident %s by hand if one exists", req.Service, err, req.IncidentID)
		}
		if err := strategy.RemoveInstance(ctx, c, stagingName(name, req.IncidentID)); err != nil {
			return fmt.Errorf("cold %s abort: %w", req.Service, err)
		}
		if _, err := ownership.RemoveIfIncident(ctx, c, name, req.Service, req.IncidentID); err != nil {
			return fmt.Errorf("cold %s abort: remove %s, restored in incident %s on %s: %w", req.Service, name, req.IncidentID, remote, err)
		}
		if _, _, err := c.GetInstance(ctx, name); errors.Is(err, lxd.ErrNotFound) {
			if err := strategy.Unreserve(ctx, c, name); err != nil {
				return fmt.Errorf("cold %s abort: %w", req.Service, err)
			}
		}
	}
	return nil
}
