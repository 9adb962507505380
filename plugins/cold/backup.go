package cold

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/vcrcovery/vcrcovery/plugins/backupstore"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
)

// CreateBackup is what `vcrctl backup create SERVICE` (and a scheduled
// backup) runs: export the service's instance from its source remote into
// the store, then prune the service's backups to the configured retention.
// settings and shared are the service's cold settings and the receiver-wide
// shared settings, as the receiver passes them to Prepare.
func CreateBackup(ctx context.Context, service string, settings, shared json.RawMessage) (backupstore.Backup, []backupstore.Backup, error) {
	s, sh, err := strategy.ParseRequest(settings, shared, ParseSettings)
	if err != nil {
		return backupstore.Backup{}, nil, err
	}
	store, err := backupstore.Open(sh.BackupDir)
	if err != nil {
		return backupstore.Backup{}, nil, err
	}
	remote, instance := s.source(service)
	c, _, err := strategy.ConnectRemote(ctx, sh, remote)
	if err != nil {
		return backupstore.Backup{}, nil, fmt.Errorf("backup %s: %w", service, err)
	}
	b, err := store.Create(ctx, s.backupName(service), backupstore.FromLXD(c, instance))
	if err != nil {
		return backupstore.Backup{}, nil, err
	}
	pruned, err := store.Prune(s.backupName(service), s.Keep)
	if err != nil {
		return b, pruned, fmt.Errorf("backup %s made (%s) but pruning failed: %w", service, b.Name(), err)
	}
	return b, pruned, nil
}
