package strategy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vcrcovery/vcrcovery/internal/humanize"
	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// ledgerReserve prefixes, in the ledger, the room reserved for an instance
// about to start: user.vcrcovery.reserved.<instance> = "<vcpus> <bytes>
// <unix time>".
const ledgerReserve = "user.vcrcovery.reserved."

// reservationTTL is how long a reservation holds room for an instance that
// is not running yet: longer than any start (plugins.timeout is 2 minutes
// by default), short enough that an abandoned one frees its room soon.
// Once the instance runs, its own limits hold the room.
const reservationTTL = 5 * time.Minute

// Room is what a remote's machine has and what is promised there.
type Room struct {
	Remote string
	// CPUs and Memory are the machine's, less lxd.SystemReserve.
	CPUs   float64
	Memory int64
	// UsedCPUs and UsedMemory are promised to the active instances (their
	// limits) and to reservations of instances about to start.
	UsedCPUs   float64
	UsedMemory int64
}

// Fits reports whether need fits in what is not promised yet.
func (r Room) Fits(need sdk.Resources) bool {
	return r.UsedCPUs+need.VCPUs <= r.CPUs+1e-9 && r.UsedMemory+need.MemoryBytes <= r.Memory
}

// String says what is promised of what, for messages.
func (r Room) String() string {
	return fmt.Sprintf("%s of %s vCPUs and %s of %s are promised there", humanize.VCPUs(r.UsedCPUs), humanize.VCPUs(r.CPUs), humanize.Bytes(r.UsedMemory), humanize.Bytes(r.Memory))
}

// Describe says what need is, for messages: "2 vCPUs and 512.0 MiB".
func Describe(need sdk.Resources) string { return humanize.Resources(need.VCPUs, need.MemoryBytes) }

// Declared returns what service declared it needs, and false when it
// declared nothing (then no room is checked or reserved for it).
func Declared(shared sdk.SharedSettings, service string) (sdk.Resources, bool) {
	r, ok := shared.Resources[service]
	return r, ok && (r.VCPUs > 0 || r.MemoryBytes > 0)
}

// Reserve makes sure the remote has room for the instance to start with
// need, never promising the machine more than it has, and reserves that
// room in the ledger, so that a start racing with this one elsewhere counts
// it. An instance that is already running or frozen holds its room and
// needs no reservation. Without room, the error is marked
// sdk.NeedsAttention and says what is short.
func Reserve(ctx context.Context, c *lxd.Client, remoteName, instance string, need sdk.Resources) (Room, error) {
	a, err := c.Allocation(ctx)
	if err != nil {
		return Room{}, fmt.Errorf("capacity of remote %q: %w", remoteName, err)
	}
	room := Room{Remote: remoteName, CPUs: a.CPUs, Memory: a.Memory}
	if in := a.Instance(instance); in != nil && in.Active {
		room.UsedCPUs, room.UsedMemory = a.Used("")
		return room, nil
	}
	now := time.Now()
	err = UpdateLedger(ctx, c, func(entries map[string]string) (bool, error) {
		room.UsedCPUs, room.UsedMemory = a.Used(instance)
		for k, v := range entries {
			name, ok := strings.CutPrefix(k, ledgerReserve)
			if !ok || name == instance {
				continue
			}
			r, at, ok := parseReservation(v)
			if !ok || now.Sub(at) > reservationTTL {
				delete(entries, k) // expired or unreadable: free its room
				continue
			}
			if in := a.Instance(name); in == nil || !in.Active {
				room.UsedCPUs += r.VCPUs
				room.UsedMemory += r.MemoryBytes
			}
		}
		if !room.Fits(need) {
			return false, sdk.NeedsAttention(fmt.Errorf("remote %q has no room for %s, which needs %s: %s; nothing was started, so that the standby is not overcommitted: free room there, give its VM more, or move services off it (scale-up)",
				remoteName, instance, Describe(need), room))
		}
		entries[ledgerReserve+instance] = fmt.Sprintf("%s %d %d", humanize.VCPUs(need.VCPUs), need.MemoryBytes, now.Unix())
		return true, nil
	})
	return room, err
}

// Unreserve drops the instance's reservation, when what it was for will
// not start after all.
func Unreserve(ctx context.Context, c *lxd.Client, instance string) error {
	return UpdateLedger(ctx, c, func(entries map[string]string) (bool, error) {
		if _, ok := entries[ledgerReserve+instance]; !ok {
			return false, nil
		}
		delete(entries, ledgerReserve+instance)
		return true, nil
	})
}

func parseReservation(v string) (sdk.Resources, time.Time, bool) {
	f := strings.Fields(v)
	if len(f) != 3 {
		return sdk.Resources{}, time.Time{}, false
	}
	cpus, err1 := strconv.ParseFloat(f[0], 64)
	mem, err2 := strconv.ParseInt(f[1], 10, 64)
	at, err3 := strconv.ParseInt(f[2], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return sdk.Resources{}, time.Time{}, false
	}
	return sdk.Resources{VCPUs: cpus, MemoryBytes: mem}, time.Unix(at, 0), true
}

// ApplyLimits limits the instance to need (limits.cpu, limits.cpu.allowance,
// limits.memory), so that it cannot take more than the room reserved for
// it. It writes nothing when the limits are already so.
func ApplyLimits(ctx context.Context, c *lxd.Client, name string, need sdk.Resources) error {
	inst, etag, err := c.GetInstance(ctx, name)
	if err != nil {
		return err
	}
	want := lxd.Limits(need.VCPUs, need.MemoryBytes)
	if _, fraction := want[lxd.KeyLimitsCPUAllowance]; need.VCPUs > 0 && !fraction && inst.Config[lxd.KeyLimitsCPUAllowance] != "" {
		want[lxd.KeyLimitsCPUAllowance] = "" // an old quota would undercut the whole CPUs
	}
	patch := map[string]string{}
	for k, v := range want {
		if inst.Config[k] != v {
			patch[k] = v
		}
	}
	if len(patch) == 0 {
		return nil
	}
	if err := c.PatchInstance(ctx, name, lxd.InstancePut{Config: patch}, etag); err != nil {
		return fmt.Errorf("limit instance %q to %s: %w", name, Describe(need), err)
	}
	return nil
}

// Admit readies a stopped instance to start within the room its service
// declared: it reserves the room (Reserve) and sets the instance's limits
// (ApplyLimits). A service that declared nothing, and an instance that
// already runs, are admitted as they are.
func Admit(ctx context.Context, c *lxd.Client, remoteName, name string, need sdk.Resources, declared bool, progress sdk.ProgressFunc) error {
	if !declared {
		return nil
	}
	room, err := Reserve(ctx, c, remoteName, name, need)
	if err != nil {
		return err
	}
	Report(progress, "room for %s (%s) on %s: %s", name, Describe(need), remoteName, room)
	return ApplyLimits(ctx, c, name, need)
}
