package scaleup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
	"github.com/vcrcovery/vcrcovery/plugins/ownership"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// Migration methods recorded in Endpoint.Details["migration"].
const (
	MethodLive              = "live"
	MethodStatelessFallback = "stateless-fallback"
	MethodStateless         = "stateless"
	MethodAlreadyMoved      = "already-moved"
)

// rollbackTimeout bounds the repair after a failed move; it runs even when
// the caller's context has ended, because a stopped source must come back.
const rollbackTimeout = 30 * time.Second

// mover moves instances from one LXD daemon to another.
type mover struct {
	src, dst         *lxd.Client
	srcName, dstName string // remote names, for messages
	// dstRemote is the target's lxd_remotes entry: its address and pool.
	dstRemote sdk.LXDRemote
	// own is the service's own instance, ownAddress its target_address.
	own, ownAddress string
	// shared carries the services' declared resources.
	shared sdk.SharedSettings
	device string
	live   string
	// service and incident are what the mover's instances are marked with
	// (package ownership): the source it adopts and the copies it makes.
	service, incident string
	progress          sdk.ProgressFunc
	// afterStep runs after each step of a stateless move ("pre-copied",
	// "frozen", "refreshed"); tests use it to break the target or to stop
	// a move halfway, as a crash would.
	afterStep func(step string)
}

// moveResult says how one instance moved.
type moveResult struct {
	Instance string
	Method   string
	// LiveError is why live migration was not used (empty after a live move).
	LiveError string
	Endpoint  sdk.Endpoint
	// Downtime is the stretch between freezing the source and the target's
	// proxy listening, as the plugin sees it (the service behind the proxy
	// may need a little longer).
	Downtime time.Duration
}

func (m *mover) report(format string, args ...any) { strategy.Report(m.progress, format, args...) }

func (m *mover) step(name string) {
	if m.afterStep != nil {
		m.afterStep(name)
	}
}

// marks are the ownership marks of everything this move touches.
func (m *mover) marks() map[string]string { return ownership.Marks(m.service, m.incident, nil) }

// move migrates one instance. On failure the source is left (or put back)
// running and the half-made target copy is deleted where possible; the error
// says which.
//
// The source is adopted first (marked as the service's, for this incident),
// and every copy carries the same marks, so Abort and a later attempt can
// tell this incident's work from anything else on either daemon.
func (m *mover) move(ctx context.Context, name string) (moveResult, error) {
	res := moveResult{Instance: name}
	inst, _, err := m.src.GetInstance(ctx, name)
	if err != nil {
		if errors.Is(err, lxd.ErrNotFound) {
			return res, fmt.Errorf("instance %q not found on source %q: check `instance`/`candidates` in the scaleup settings", name, m.srcName)
		}
		return res, fmt.Errorf("source %q: %w", m.srcName, err)
	}
	if err := ownership.CheckNotOthers(inst, m.srcName, m.service, "move it to "+m.dstName); err != nil {
		return res, err
	}
	srcEP, err := strategy.ProxyEndpoint(inst, m.device, "")
	if err != nil {
		return res, err
	}
	addr, err := m.targetAddress(ctx, name)
	if err != nil {
		return res, err
	}
	proxy, err := m.targetProxy(inst, addr)
	if err != nil {
		return res, err
	}
	override := map[string]map[string]string{m.device: proxy}
	dstEP, err := strategy.ProxyEndpoint(&lxd.Instance{Name: name, Devices: override}, m.device, addr)
	if err != nil {
		return res, err
	}
	need, limits := m.need(inst, name)
	if need != (sdk.Resources{}) {
		room, err := strategy.Reserve(ctx, m.dst, m.dstName, name, need)
		if err != nil {
			return res, err
		}
		m.report("room for %s (%s) on %s: %s", name, strategy.Describe(need), m.dstName, room)
	}
	// The copy is marked as the service's, listens on its address there,
	// and is limited to what it was promised.
	config := m.marks()
	config[strategy.KeyAddress] = addr
	maps.Copy(config, limits)

	done, err := m.clearTarget(ctx, name, inst.StatusCode == lxd.StatusRunning)
	if err != nil {
		return res, err
	}
	if done {
		res.Method = MethodAlreadyMoved
		res.Endpoint, err = m.targetEndpoint(ctx, name)
		return res, err
	}
	if err := ownership.Mark(ctx, m.src, name, m.marks()); err != nil {
		return res, err
	}

	if m.live != LiveOff && inst.StatusCode == lxd.StatusRunning {
		m.report("migrating %s live (CRIU) from %s to %s", name, m.srcName, m.dstName)
		start := time.Now()
		err := m.src.CopyInstance(ctx, m.dst, name, lxd.CopyOptions{Live: true, Config: config, Devices: override})
		if err == nil {
			if err = ensureRunning(ctx, m.dst, name); err == nil {
				res.Method = MethodLive
				res.Downtime = time.Since(start) // upper bound: CRIU freezes for part of it
				res.Endpoint, err = m.targetEndpoint(ctx, name)
				return res, err
			}
		}
		res.LiveError = liveReason(err)
		if m.live == LiveOnly {
			return res, m.rollback(ctx, name, srcEP, fmt.Errorf("live migration of %s failed (live=only, so no fallback): %w", name, err))
		}
		m.report("live migration of %s failed (%s); falling back to a stateless move", name, res.LiveError)
		// A failed checkpoint may have stopped the source; bring it back and
		// drop whatever reached the target before the stateless move.
		srcErr, dstErr := m.repair(ctx, name)
		if srcErr != nil {
			return res, fmt.Errorf("live migration of %s failed (%s) and %s could not be restarted on %s: %w: start it by hand", name, res.LiveError, name, m.srcName, srcErr)
		}
		if dstErr != nil {
			return res, fmt.Errorf("live migration of %s failed (%s); %s still serves on %s; %w", name, res.LiveError, name, m.srcName, dstErr)
		}
		res.Method = MethodStatelessFallback
	} else {
		res.Method = MethodStateless
		if m.live != LiveOff {
			res.LiveError = "instance not running, nothing to checkpoint"
		}
	}

	m.report("pre-copying %s to %s while it keeps serving", name, m.dstName)
	preAt := time.Now()
	// AllowInconsistent: without it LXD freezes the running source for the
	// whole transfer, the very pause the pre-copy exists to avoid. The
	// refresh below runs frozen, so the target ends up consistent anyway.
	if err := m.src.CopyInstance(ctx, m.dst, name, lxd.CopyOptions{AllowInconsistent: true, Config: config, Devices: override}); err != nil {
		return res, m.rollback(ctx, name, srcEP, fmt.Errorf("pre-copy of %s to %s: %w", name, m.dstName, err))
	}
	m.report("pre-copy done in %s", since(preAt))
	m.step("pre-copied")
	// Freeze rather than stop: it takes milliseconds instead of most of a
	// second, it quiesces the filesystem just as well for the refresh, and
	// a rollback is an instant unfreeze instead of a restart. The frozen
	// source is stopped and deleted in Finalize.
	m.report("freezing %s on %s (the service pauses here)", name, m.srcName)
	stopped := time.Now()
	// A stopped source changes nothing, so its pre-copy is already consistent.
	if inst.StatusCode == lxd.StatusRunning {
		if err := m.src.FreezeInstance(ctx, name); err != nil {
			return res, m.rollback(ctx, name, srcEP, fmt.Errorf("freeze %s on source: %w", name, err))
		}
	}
	m.step("frozen")
	m.report("froze %s in %s; refreshing it on %s with what changed since the pre-copy", name, since(stopped), m.dstName)
	refreshAt := time.Now()
	if err := m.src.CopyInstance(ctx, m.dst, name, lxd.CopyOptions{Refresh: true, Config: config, Devices: override}); err != nil {
		return res, m.rollback(ctx, name, srcEP, fmt.Errorf("refresh of %s on %s: %w", name, m.dstName, err))
	}
	m.step("refreshed")
	m.report("refreshed in %s; starting %s on %s", since(refreshAt), name, m.dstName)
	startAt := time.Now()
	if err := strategy.StartListening(ctx, m.dst, name, dstEP); err != nil {
		return res, m.rollback(ctx, name, srcEP, fmt.Errorf("start %s on %s: %w", name, m.dstName, err))
	}
	res.Downtime = time.Since(stopped)
	m.report("%s listens on %s after %s (%s since the freeze)", name, m.dstName, since(startAt), res.Downtime.Round(time.Millisecond))
	res.Endpoint, err = m.targetEndpoint(ctx, name)
	if err != nil {
		return res, m.rollback(ctx, name, srcEP, err)
	}
	return res, nil
}

// targetAddress is where name listens on the target: the service's
// target_address for its own instance, else one of the target's
// address_pool, else the target's address.
func (m *mover) targetAddress(ctx context.Context, name string) (string, error) {
	fixed := ""
	if name == m.own {
		fixed = m.ownAddress
	}
	addr, _, err := strategy.ServiceAddress(ctx, m.dst, m.dstName, m.dstRemote, name, fixed, "")
	if err != nil {
		return "", err
	}
	if addr == "" {
		return "", fmt.Errorf("target remote %q has no address in lxd_remotes: set its address or address_pool so the moved service listens on the target VM's address", m.dstName)
	}
	return addr, nil
}

// need is what the moved instance takes on the target, and the limits to
// give its copy: its limits on the source, else, for the service's own
// instance, what the service declared. Zero when neither says.
func (m *mover) need(inst *lxd.Instance, name string) (sdk.Resources, map[string]string) {
	var need sdk.Resources
	cpus, cpuSet, _ := inst.CPULimit()
	mem, memSet, _ := inst.MemoryLimit(0)
	if cpuSet {
		need.VCPUs = cpus
	}
	if memSet && mem > 0 { // a percentage of the source's memory says nothing here
		need.MemoryBytes = mem
	}
	if decl, ok := strategy.Declared(m.shared, m.service); ok && name == m.own {
		if !cpuSet {
			need.VCPUs = decl.VCPUs
		}
		if need.MemoryBytes == 0 {
			need.MemoryBytes = decl.MemoryBytes
		}
		return need, lxd.Limits(need.VCPUs, need.MemoryBytes)
	}
	return need, nil
}

// targetProxy is the source's proxy device with its listen address moved to
// addr, the service's address on the target.
func (m *mover) targetProxy(inst *lxd.Instance, addr string) (map[string]string, error) {
	dev, ok := inst.Devices[m.device]
	if !ok {
		dev, ok = inst.ExpandedDevices[m.device]
	}
	if !ok || dev["type"] != "proxy" {
		return nil, fmt.Errorf("instance %q has no proxy device %q: set proxy_device in the scaleup settings", inst.Name, m.device)
	}
	listen, err := strategy.RewriteListen(dev["listen"], addr)
	if err != nil {
		return nil, err
	}
	out := maps.Clone(dev)
	out["listen"] = listen
	return out, nil
}

// clearTarget removes a leftover copy of name from the target. If the target
// already runs the service's copy while the source does not, an earlier
// attempt completed the move, and clearTarget reports done. An instance of
// that name which is not the service's is neither removed nor taken for a
// finished move: the move stops with a conflict.
func (m *mover) clearTarget(ctx context.Context, name string, srcRunning bool) (done bool, err error) {
	inst, _, err := m.dst.GetInstance(ctx, name)
	if errors.Is(err, lxd.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("target %q: %w: check the bigger VM's LXD is up", m.dstName, err)
	}
	if err := ownership.Check(inst, m.dstName, m.service, "replace it with "+name+" from "+m.srcName); err != nil {
		return false, err
	}
	st, err := m.dst.GetInstanceState(ctx, name)
	if err != nil {
		return false, fmt.Errorf("target %q: %w: check the bigger VM's LXD is up", m.dstName, err)
	}
	if st.Running() && !srcRunning {
		m.report("%s already runs on %s and is stopped on %s: an earlier attempt moved it", name, m.dstName, m.srcName)
		return true, nil
	}
	m.report("removing a leftover copy of %s from %s", name, m.dstName)
	if err := strategy.RemoveInstance(ctx, m.dst, name); err != nil {
		return false, fmt.Errorf("target %q has a stale %s that cannot be removed: %w", m.dstName, name, err)
	}
	return false, nil
}

func (m *mover) targetEndpoint(ctx context.Context, name string) (sdk.Endpoint, error) {
	inst, _, err := m.dst.GetInstance(ctx, name)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("target %q: %w", m.dstName, err)
	}
	return strategy.ProxyEndpoint(inst, m.device, m.dstRemote.Address)
}

// repair puts things back after a failed attempt: the source runs
// (srcErr says if not) and the target has no copy of this incident (dstErr
// says if it may).
func (m *mover) repair(ctx context.Context, name string) (srcErr, dstErr error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	if st, err := m.src.GetInstanceState(rctx, name); err != nil {
		srcErr = err
	} else if !st.Running() {
		m.report("%s is %s on %s after the failed attempt; starting it again", name, st.Status, m.srcName)
		if _, err := strategy.EnsureRunning(rctx, m.src, name, nil, nil); err != nil {
			srcErr = err
		}
	}
	// The room reserved for the copy on the target is free again.
	_ = strategy.Unreserve(rctx, m.dst, name)
	if _, err := ownership.RemoveIfIncident(rctx, m.dst, name, m.service, m.incident); err != nil {
		dstErr = fmt.Errorf("could not remove the half copy from %s (%v): delete it by hand once %s is back: lxc delete --force %s", m.dstName, err, m.dstName, name)
	}
	return srcErr, dstErr
}

// rollback repairs after a failed move and returns cause with what the
// repair achieved, so the incident says whether the service still runs.
func (m *mover) rollback(ctx context.Context, name string, srcEP sdk.Endpoint, cause error) error {
	srcErr, dstErr := m.repair(ctx, name)
	if srcErr != nil {
		return fmt.Errorf("scale-up of %s failed: %w; and %s could not be restarted on %s: %v: start it by hand (lxc start %s)", name, cause, name, m.srcName, srcErr, name)
	}
	m.report("scale-up of %s failed; %s serves it at %s:%d", name, m.srcName, srcEP.Address, srcEP.Port)
	cleanup := "the target copy was removed"
	if dstErr != nil {
		cleanup = dstErr.Error()
	}
	return fmt.Errorf("scale-up of %s failed: %w; %s keeps serving on %s at %s:%d; %s; fix %s and retry",
		name, cause, name, m.srcName, srcEP.Address, srcEP.Port, cleanup, m.dstName)
}

// liveReason is the short reason a live migration failed, for the incident.
func liveReason(err error) string {
	if err == nil {
		return "the live copy did not come up running on the target"
	}
	var le *lxd.Error
	if errors.As(err, &le) {
		return le.Message
	}
	return err.Error()
}

func ensureRunning(ctx context.Context, c *lxd.Client, name string) error {
	_, err := strategy.EnsureRunning(ctx, c, name, nil, nil)
	return err
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
