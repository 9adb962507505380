package backupstore

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
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

// CreateForService is what `vcrctl backup create SERVICE` (and a scheduled
// backup) runs: export the service's instance from its source remote into
// the store, then prune the service's backups to the configured retention.
// settings and shared are the service's cold settings and the receiver-wide
// shared settings, as the receiver passes them to Prepare. It returns the new
// backup and the ones pruned.
func CreateForService(ctx context.Context, service string, settings, shared json.RawMessage) (Backup, []Backup, error) {
	s, sh, err := strategy.ParseRequest(settings, shared, ParseSettings)
	if err != nil {
		return Backup{}, nil, err
	}
	store, err := Open(sh.BackupDir)
	if err != nil {
		return Backup{}, nil, err
	}
	remote, instance := s.SourceFor(service)
	c, _, err := strategy.ConnectRemote(ctx, sh, remote)
	if err != nil {
		return Backup{}, nil, fmt.Errorf("backup %s: %w", service, err)
	}
	b, err := store.Create(ctx, s.FolderFor(service), FromLXD(c, instance))
	if err != nil {
		return Backup{}, nil, err
	}
	pruned, err := store.Prune(s.FolderFor(service), s.Keep)
	if err != nil {
		return b, pruned, fmt.Errorf("backup %s made (%s) but pruning failed: %w", service, b.Name(), err)
	}
	return b, pruned, nil
}
