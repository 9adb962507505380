package ownership

import (
	"context"
	"errors"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
)

// RemoveIfIncident force-stops and deletes name if it was created or
// adopted for service in incident, and reports whether it did. A missing
// instance, or one with other marks, is left alone: undoing an incident
// removes only what that incident made.
func RemoveIfIncident(ctx context.Context, c *lxd.Client, name, service, incident string) (bool, error) {
	inst, _, err := c.GetInstance(ctx, name)
	if errors.Is(err, lxd.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !Of(inst).IsIncident(service, incident) {
		return false, nil
	}
	return true, strategy.RemoveInstance(ctx, c, name)
}
