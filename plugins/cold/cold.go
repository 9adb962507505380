package cold

import (
	"context"
	"fmt"

	"github.com/vcrcovery/vcrcovery/plugins/backupstore"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// Version is the strategy's version, shown by Info.
const Version = "0.1.0"

// Strategy is the cold-standby strategy. The zero value is ready to use.
type Strategy struct{}

var _ sdk.Strategy = Strategy{}

// Info implements sdk.Strategy.
func (Strategy) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "cold", Version: Version,
		Description: "cold standby: restore the newest good backup into the standby LXD and start it"}, nil
}

// ValidateConfig implements sdk.Strategy.
func (Strategy) ValidateConfig(_ context.Context, req sdk.ValidateRequest) error {
	s, err := backupstore.ParseSettings(req.Settings)
	if err != nil {
		return err
	}
	if err := strategy.CheckRemotes(req.Shared, map[string]string{"remote": s.Remote, "source_remote": s.SourceRemote, "overflow_remote": s.OverflowRemote}); err != nil {
		return fmt.Errorf("cold settings: %w", err)
	}
	return nil
}

// Prepare implements sdk.Strategy: restore, re-address, start.
//
// It restores only when this incident has not done so already: an instance
// marked as restored for this incident is finished (re-addressed, started)
// and returned as it is, so a second Prepare, or one after a crash halfway,
// neither restores twice nor restarts a running service.
func (Strategy) Prepare(ctx context.Context, req sdk.PrepareRequest, progress sdk.ProgressFunc) (sdk.Endpoint, error) {
	s, shared, err := strategy.ParseRequest(req.Settings, req.Shared, backupstore.ParseSettings)
	if err != nil {
		return sdk.Endpoint{}, err
	}
	store, err := backupstore.Open(shared.BackupDir)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("cold %s: %w", req.Service, err)
	}
	bname := s.FolderFor(req.Service)
	// Fail before touching LXD when there is nothing to restore.
	if _, err := store.Newest(bname); err != nil {
		return sdk.Endpoint{}, fmt.Errorf("cold %s: %w", req.Service, err)
	}
	r, err := target(ctx, s, shared, req, progress)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("cold %s: %w", req.Service, err)
	}
	ep, err := r.run(ctx, store, bname)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("cold %s: %w", req.Service, err)
	}
	// The export holds the container as it was when it was taken; the data
	// backup, taken from the primary more often, brings its data up to date.
	data, err := r.applyData(ctx, store, bname, s.InstanceFor(req.Service))
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("cold %s: %w", req.Service, err)
	}
	if data != "" {
		ep.Details["data_backup"] = data
	}
	return ep, nil
}

// Finalize implements sdk.Strategy; the restored container stays.
func (Strategy) Finalize(context.Context, sdk.FinalizeRequest) error { return nil }
