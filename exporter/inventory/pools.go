package inventory

import (
	"context"
	"sort"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
)

// Pool is one storage pool as virStoragePoolGetInfo reports it.
type Pool struct {
	Name                            string
	State                           uint8 // virStoragePoolState: 0 inactive, 1 building, 2 running, 3 degraded, 4 inaccessible
	Capacity, Allocation, Available uint64
}

// Pools returns the pools of the last refresh, sorted by name.
func (inv *Inventory) Pools() []Pool {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.pools
}

// refreshPools lists every pool (one call) and asks each for its sizes. A
// host has a handful of pools, and their sizes change slowly, so this runs
// once per --libvirt.pool-interval.
func (inv *Inventory) refreshPools(ctx context.Context, c Client, now time.Time) {
	inv.mu.Lock()
	due := now.Sub(inv.poolsAt) >= inv.opts.PoolInterval
	if due {
		inv.poolsAt = now
	}
	inv.mu.Unlock()
	if !due {
		return
	}
	list, err := call(ctx, inv.opts.CallTimeout, func() ([]libvirt.StoragePool, error) {
		p, _, err := c.ConnectListAllStoragePools(1, 0)
		return p, err
	})
	if err != nil {
		inv.opts.Logger.Debug("list storage pools failed; keeping the last answer", "err", err)
		return
	}
	pools := make([]Pool, 0, len(list))
	for _, p := range list {
		type info struct {
			state             uint8
			cap, alloc, avail uint64
		}
		i, err := call(ctx, inv.opts.CallTimeout, func() (info, error) {
			s, c, a, v, err := c.StoragePoolGetInfo(p)
			return info{s, c, a, v}, err
		})
		if err != nil {
			continue // undefined meanwhile
		}
		pools = append(pools, Pool{Name: p.Name, State: i.state, Capacity: i.cap, Allocation: i.alloc, Available: i.avail})
	}
	sort.Slice(pools, func(a, b int) bool { return pools[a].Name < pools[b].Name })
	inv.mu.Lock()
	inv.pools = pools
	inv.mu.Unlock()
}
