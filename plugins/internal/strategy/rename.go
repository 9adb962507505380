package strategy

import (
	"context"
	"fmt"
	"net/http"
	"path"

	"github.com/vcrcovery/vcrcovery/lxd"
)

// RenameInstance renames the stopped instance from to to (POST
// /1.0/instances/{from} with a new name) and waits for LXD to finish. The
// lxd package has no call for it; LXD answers with a background operation.
func RenameInstance(ctx context.Context, c *lxd.Client, from, to string) error {
	env, _, err := c.Raw(ctx, http.MethodPost, "/1.0/instances/"+from, map[string]any{"name": to, "migration": false})
	if err != nil {
		return fmt.Errorf("rename instance %q to %q: %w", from, to, err)
	}
	if env.Operation == "" {
		return nil
	}
	if _, err := c.WaitOperation(ctx, path.Base(env.Operation), 0); err != nil {
		return fmt.Errorf("rename instance %q to %q: %w", from, to, err)
	}
	return nil
}
