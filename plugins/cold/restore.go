package cold

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/backupstore"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
	"github.com/vcrcovery/vcrcovery/plugins/ownership"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// KeyBackup records, beside the ownership marks, which backup an instance
// was restored from.
const KeyBackup = "user.vcrcovery.backup"

// restorer restores one service into the standby for one incident.
type restorer struct {
	c          *lxd.Client
	remoteName string
	remote     sdk.LXDRemote
	// address is the service's own address there, from its settings;
	// empty means one of the remote's pool, else the remote's address.
	address string
	// need is what the service declared; declared is false when nothing.
	need     sdk.Resources
	declared bool
	settings backupstore.Settings
	req      sdk.PrepareRequest
	progress sdk.ProgressFunc
}

func (r *restorer) report(format string, args ...any) { strategy.Report(r.progress, format, args...) }

// run restores the newest good backup unless this incident already did, and
// returns the running service's endpoint.
//
// A backup is imported under a staging name that belongs to this incident
// (stagingName), marked, and only then renamed to the service's instance.
// So an instance with the service's name is never unmarked because of us,
// even if the plugin dies between the import and the marks: what such a
// crash leaves behind carries the staging name, which the next attempt
// recognises and removes.
func (r *restorer) run(ctx context.Context, store *backupstore.Store, folder string) (sdk.Endpoint, error) {
	name := r.settings.InstanceFor(r.req.Service)
	existing, err := r.get(ctx, name)
	if err != nil {
		return sdk.Endpoint{}, err
	}
	if existing != nil {
		if err := ownership.Check(existing, r.remoteName, r.req.Service, "replace it with the newest backup"); err != nil {
			return sdk.Endpoint{}, err
		}
		if ownership.Of(existing).Incident == r.req.IncidentID {
			r.report("instance %s was restored from %s earlier in this incident; finishing it", name, existing.Config[KeyBackup])
			return r.finish(ctx, name, false)
		}
	}
	staging := stagingName(name, r.req.IncidentID)
	if err := strategy.RemoveInstance(ctx, r.c, staging); err != nil {
		return sdk.Endpoint{}, fmt.Errorf("remove %s, left by an earlier attempt of this incident: %w", staging, err)
	}
	restore := func(ctx context.Context, b backupstore.Backup, f *os.File) error {
		r.report("importing backup %s (%d bytes) as %s", b.Name(), b.Size, staging)
		if err := r.c.ImportBackup(ctx, f, lxd.ImportOptions{Name: staging}); err != nil {
			// LXD may keep what it imported of a broken tarball.
			_ = strategy.RemoveInstance(context.WithoutCancel(ctx), r.c, staging)
			return err
		}
		return nil
	}
	note := func(m string) { r.report("%s", m) }
	b, err := store.RestoreNewest(ctx, folder, restore, note)
	if err != nil {
		return sdk.Endpoint{}, err
	}
	marks := ownership.Marks(r.req.Service, r.req.IncidentID, map[string]string{KeyBackup: b.Name()})
	if err := ownership.Mark(ctx, r.c, staging, marks); err != nil {
		return sdk.Endpoint{}, err
	}
	if existing != nil {
		// Owned by this service, from an earlier incident: a stale copy.
		if err := strategy.RemoveInstance(ctx, r.c, name); err != nil {
			return sdk.Endpoint{}, fmt.Errorf("replace stale instance: %w", err)
		}
		r.report("removed stale instance %s (%s) from %s", name, ownership.Of(existing), r.remoteName)
	}
	if err := strategy.RenameInstance(ctx, r.c, staging, name); err != nil {
		return sdk.Endpoint{}, err
	}
	return r.finish(ctx, name, existing != nil)
}

// finish re-addresses and starts the restored instance name and returns
// its endpoint. Each step does nothing when it is already done.
func (r *restorer) finish(ctx context.Context, name string, replaced bool) (sdk.Endpoint, error) {
	device := r.settings.ProxyDevice
	inst, _, err := r.c.GetInstance(ctx, name)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("restored instance: %w", err)
	}
	// A backup taken on the primary carries the primary's address: move
	// the listener to the service's address here.
	addr, _, err := strategy.ServiceAddress(ctx, r.c, r.remoteName, r.remote, name, r.address, strategy.ListenHost(inst, device))
	if err != nil {
		return sdk.Endpoint{}, err
	}
	if addr != "" {
		if err := strategy.Listen(ctx, r.c, name, device, addr); err != nil {
			return sdk.Endpoint{}, err
		}
		if inst, _, err = r.c.GetInstance(ctx, name); err != nil {
			return sdk.Endpoint{}, err
		}
	}
	ep, err := strategy.ProxyEndpoint(inst, device, addr)
	if err != nil {
		return sdk.Endpoint{}, err
	}
	if r.declared {
		if err := strategy.ApplyLimits(ctx, r.c, name, r.need); err != nil {
			return sdk.Endpoint{}, err
		}
	}
	if _, err := strategy.EnsureRunning(ctx, r.c, name, &ep, r.progress); err != nil {
		return sdk.Endpoint{}, err
	}
	backup := inst.Config[KeyBackup]
	ep.Details = map[string]string{
		"remote":   r.remoteName,
		"instance": name,
		"backup":   backup,
		"replaced": strconv.FormatBool(replaced),
	}
	r.report("restored %s from %s; serving at %s:%d", name, backup, ep.Address, ep.Port)
	return ep, nil
}

// get returns the instance name, or nil if it does not exist.
func (r *restorer) get(ctx context.Context, name string) (*lxd.Instance, error) {
	inst, _, err := r.c.GetInstance(ctx, name)
	if errors.Is(err, lxd.ErrNotFound) {
		return nil, nil
	}
	return inst, err
}

// stagingName is where a backup is imported for incident before it takes
// the service's instance name: the instance's name, shortened to leave room
// within LXD's 63 characters, plus a hash of the incident. The name is this
// incident's by construction, which is why an unmarked instance of that
// name, left by a crash mid-import, may be removed.
func stagingName(name, incident string) string {
	sum := sha256.Sum256([]byte(incident))
	suffix := "-vcrimport-" + hex.EncodeToString(sum[:4])
	if max := 63 - len(suffix); len(name) > max {
		name = name[:max]
	}
	return name + suffix
}
