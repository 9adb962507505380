// Package lifecycle follows one libvirtd: it keeps a connection open and
// redials after a loss (Supervisor), turns every lifecycle event into
// counters, a failure verdict for the fast path and a remembered state
// (Tracker), reconciles what it missed after each reconnect, and holds the
// states a scrape prefers over an older stats snapshot (StateCache).
package lifecycle

import (
	"context"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/internal/virt"
)

// Client is the part of go-libvirt the exporter uses; *libvirt.Libvirt
// implements it, and unit tests substitute a fake. Every call works on a
// read-only connection (libvirt-sock-ro).
type Client interface {
	ConnectGetAllDomainStats(doms []libvirt.Domain, stats uint32, flags uint32) ([]libvirt.DomainStatsRecord, error)
	LifecycleEvents(ctx context.Context) (<-chan libvirt.DomainEventLifecycleMsg, error)
	Disconnected() <-chan struct{}
	Disconnect() error

	// The background inventory: domain XML, jobs, storage pools.
	DomainGetXMLDesc(dom libvirt.Domain, flags libvirt.DomainXMLFlags) (string, error)
	DomainGetJobStats(dom libvirt.Domain, flags libvirt.DomainGetJobStatsFlags) (int32, []libvirt.TypedParam, error)
	ConnectListAllStoragePools(needResults int32, flags libvirt.ConnectListAllStoragePoolsFlags) ([]libvirt.StoragePool, uint32, error)
	StoragePoolGetInfo(pool libvirt.StoragePool) (uint8, uint64, uint64, uint64, error)
}

// Dialer opens a new Client; the Supervisor calls it again after every loss.
type Dialer func(ctx context.Context) (Client, error)

// LibvirtDialer dials libvirtd at socket and opens uri with internal/virt.
func LibvirtDialer(socket, uri string, timeout time.Duration) Dialer {
	return func(ctx context.Context) (Client, error) {
		l, err := virt.Dial(ctx, socket, uri, timeout)
		if err != nil {
			return nil, err
		}
		return l, nil
	}
}

// StatsFlags asks ConnectGetAllDomainStats for active and inactive domains
// alike. NOWAIT makes libvirt skip, rather than wait for, stats of a domain
// whose job lock is held (a migrating or hung QEMU), so one domain cannot
// stall a scrape or a reconciliation.
const StatsFlags = uint32(libvirt.ConnectGetAllDomainsStatsActive | libvirt.ConnectGetAllDomainsStatsInactive |
	libvirt.ConnectGetAllDomainsStatsNowait)

// ParamFloat converts a typed parameter's value to float64; strings become 0.
func ParamFloat(v libvirt.TypedParamValue) float64 {
	switch x := v.I.(type) {
	case int32:
		return float64(x)
	case uint32:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case float64:
		return x
	case bool:
		if x {
			return 1
		}
	}
	return 0
}
