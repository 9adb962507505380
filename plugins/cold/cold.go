package cold

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/vcrcovery/vcrcovery/lxd"
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
	_, err := backupstore.ParseSettings(req.Settings)
	return err
}

// Prepare implements sdk.Strategy: restore, re-address, start.
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
	c, remote, err := strategy.ConnectRemote(ctx, shared, s.Remote)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("cold %s: %w", req.Service, err)
	}
	name := s.InstanceFor(req.Service)

	var replaced bool
	restore := func(ctx context.Context, b backupstore.Backup, f *os.File) error {
		gone, err := removeInstance(ctx, c, name)
		if err != nil {
			return err
		}
		if gone {
			replaced = true
			strategy.Report(progress, "removed stale instance %s from %s", name, s.Remote)
		}
		strategy.Report(progress, "importing backup %s (%d bytes) as %s", b.Name(), b.Size, name)
		return c.ImportBackup(ctx, f, lxd.ImportOptions{Name: name})
	}
	note := func(m string) { strategy.Report(progress, "%s", m) }
	b, err := store.RestoreNewest(ctx, bname, restore, note)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("cold %s: %w", req.Service, err)
	}

	inst, _, err := c.GetInstance(ctx, name)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("cold %s: restored instance: %w", req.Service, err)
	}
	if remote.Address != "" {
		if err := Readdress(ctx, c, inst, s.ProxyDevice, remote.Address); err != nil {
			return sdk.Endpoint{}, fmt.Errorf("cold %s: %w", req.Service, err)
		}
		if inst, _, err = c.GetInstance(ctx, name); err != nil {
			return sdk.Endpoint{}, fmt.Errorf("cold %s: %w", req.Service, err)
		}
	}
	ep, err := strategy.ProxyEndpoint(inst, s.ProxyDevice, remote.Address)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("cold %s: %w", req.Service, err)
	}
	if _, err := strategy.EnsureRunning(ctx, c, name, &ep, progress); err != nil {
		return sdk.Endpoint{}, fmt.Errorf("cold %s: %w", req.Service, err)
	}
	ep.Details = map[string]string{
		"remote":   s.Remote,
		"instance": name,
		"backup":   b.Name(),
		"replaced": strconv.FormatBool(replaced),
	}
	strategy.Report(progress, "restored %s from %s; serving at %s:%d", name, b.Name(), ep.Address, ep.Port)
	return ep, nil
}

// Finalize implements sdk.Strategy; the restored container stays.
func (Strategy) Finalize(context.Context, sdk.FinalizeRequest) error { return nil }

// Abort implements sdk.Strategy. Until restored instances carry ownership
// marks, cold cannot tell its own import from a namesake, so it removes
// nothing.
func (Strategy) Abort(context.Context, sdk.AbortRequest) error { return nil }

// removeInstance force-stops and deletes name if it exists.
func removeInstance(ctx context.Context, c *lxd.Client, name string) (bool, error) {
	if _, _, err := c.GetInstance(ctx, name); err != nil {
		if errors.Is(err, lxd.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	if err := strategy.RemoveInstance(ctx, c, name); err != nil {
		return false, fmt.Errorf("replace stale instance: %w", err)
	}
	return true, nil
}

// Readdress points inst's proxy device at addr, keeping its port, so a
// container restored (or moved) onto another "VM" listens on that VM's
// address. It does nothing when the device already listens there.
func Readdress(ctx context.Context, c *lxd.Client, inst *lxd.Instance, device, addr string) error {
	dev, ok := inst.Devices[device]
	if !ok {
		// A profile's proxy cannot be edited per instance; an instance
		// device of the same name overrides it.
		dev, ok = inst.ExpandedDevices[device]
	}
	if !ok || dev["type"] != "proxy" {
		return fmt.Errorf("instance %q has no proxy device %q: add one (listen=tcp:<addr>:<port> connect=tcp:127.0.0.1:<port>) before backing it up", inst.Name, device)
	}
	listen, err := strategy.RewriteListen(dev["listen"], addr)
	if err != nil {
		return fmt.Errorf("instance %q device %q: %w", inst.Name, device, err)
	}
	if listen == dev["listen"] {
		return nil
	}
	nd := make(map[string]string, len(dev))
	for k, v := range dev {
		nd[k] = v
	}
	nd["listen"] = listen
	if err := c.SetDevice(ctx, inst.Name, device, nd); err != nil {
		return fmt.Errorf("re-address instance %q to %s: %w", inst.Name, addr, err)
	}
	return nil
}
