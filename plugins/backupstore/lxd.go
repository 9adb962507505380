package backupstore

import (
	"context"
	"io"

	"github.com/vcrcovery/vcrcovery/lxd"
)

// FromLXD exports instance from an LXD daemon: a fresh backup is made,
// streamed into the store and deleted from the daemon again. Use it with
// Create: store.Create(ctx, service, backupstore.FromLXD(c, instance)).
func FromLXD(c *lxd.Client, instance string) ExportFunc {
	return func(ctx context.Context, w io.Writer) error {
		_, err := c.ExportInstance(ctx, instance, w)
		return err
	}
}
