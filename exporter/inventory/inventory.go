package inventory

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/internal/virt"
)

// Client is the part of go-libvirt the inventory reads; *libvirt.Libvirt
// implements it, and so does lifecycle.Client.
type Client interface {
	DomainGetXMLDesc(dom libvirt.Domain, flags libvirt.DomainXMLFlags) (string, error)
	DomainGetJobStats(dom libvirt.Domain, flags libvirt.DomainGetJobStatsFlags) (int32, []libvirt.TypedParam, error)
	ConnectListAllStoragePools(needResults int32, flags libvirt.ConnectListAllStoragePoolsFlags) ([]libvirt.StoragePool, uint32, error)
	StoragePoolGetInfo(pool libvirt.StoragePool) (uint8, uint64, uint64, uint64, error)
}

// Options configures the inventory; a zero interval turns its part off.
type Options struct {
	// XMLTTL is the longest a parsed domain XML is kept without an event
	// that changes it (--libvirt.xml-ttl).
	XMLTTL time.Duration
	// MetadataKeys are the --libvirt.metadata-label keys.
	MetadataKeys []MetadataKey
	// JobInterval is how often every running domain is asked for its job
	// (--libvirt.job-interval); domains with one are asked at every refresh.
	JobInterval time.Duration
	// PoolInterval is how often the storage pools are read (--libvirt.pool-interval).
	PoolInterval time.Duration
	// CallTimeout bounds each libvirt call of a refresh.
	CallTimeout time.Duration
	Logger      *slog.Logger
}

// Domain is what a scrape tells the inventory about one domain: its handle,
// UUID and whether it runs (only running domains have jobs).
type Domain struct {
	Dom     libvirt.Domain
	UUID    string
	Running bool
}

// Inventory caches domain XML, jobs and storage pools, refreshed by Refresh
// in the background. Its getters never call libvirt.
type Inventory struct {
	opts Options
	now  func() time.Time

	refreshing atomic.Bool

	mu         sync.Mutex
	domains    map[string]*domainEntry // by UUID
	jobs       map[string]Job          // by UUID, running domains polled at least once
	lastSweep  time.Time
	pools      []Pool
	poolsAt    time.Time
	jobsBroken bool // the driver has no job stats (the test driver): stop asking
}

type domainEntry struct {
	info    *DomainInfo
	fetched time.Time
	stale   bool // an event changed the domain since fetched
	failed  bool // the last fetch failed (the domain may have vanished)
}

// New builds an empty inventory; Refresh fills it.
func New(opts Options) *Inventory {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 5 * time.Second
	}
	if opts.XMLTTL <= 0 {
		opts.XMLTTL = 10 * time.Minute
	}
	return &Inventory{opts: opts, now: time.Now, domains: make(map[string]*domainEntry), jobs: make(map[string]Job)}
}

// MetadataLabels are the label names of vcr_domain_metadata_info, in key order.
func (inv *Inventory) MetadataLabels() []string {
	out := make([]string, len(inv.opts.MetadataKeys))
	for i, k := range inv.opts.MetadataKeys {
		out[i] = k.Label
	}
	return out
}

// Changed marks a domain's XML stale: lifecycle events that change it
// (defined, undefined, started, stopped) call it, so the next refresh reads
// it again instead of waiting for the TTL.
func (inv *Inventory) Changed(uuid string) {
	inv.mu.Lock()
	if e, ok := inv.domains[uuid]; ok {
		e.stale = true
	}
	inv.mu.Unlock()
}

// Info returns the cached XML info of a domain, nil if it was never read.
func (inv *Inventory) Info(uuid string) *DomainInfo {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if e, ok := inv.domains[uuid]; ok {
		return e.info
	}
	return nil
}

// Kick starts a background refresh for the domains of a scrape unless one
// is still running: a hung libvirtd holds at most one refresh.
func (inv *Inventory) Kick(c Client, doms []Domain) {
	if c == nil || !inv.refreshing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer inv.refreshing.Store(false)
		inv.Refresh(context.Background(), c, doms)
	}()
}

// Refresh reads, one call at a time, the XML of domains that are new, stale
// or older than the TTL, the job of running domains that are due, and the
// storage pools if due, and forgets domains no longer listed.
func (inv *Inventory) Refresh(ctx context.Context, c Client, doms []Domain) {
	now := inv.now()
	inv.refreshXML(ctx, c, doms, now)
	if inv.opts.JobInterval > 0 {
		inv.refreshJobs(ctx, c, doms, now)
	}
	if inv.opts.PoolInterval > 0 {
		inv.refreshPools(ctx, c, now)
	}
}

func (inv *Inventory) refreshXML(ctx context.Context, c Client, doms []Domain, now time.Time) {
	listed := make(map[string]bool, len(doms))
	var due []Domain
	inv.mu.Lock()
	for _, d := range doms {
		listed[d.UUID] = true
		e, ok := inv.domains[d.UUID]
		if !ok || e.stale || now.Sub(e.fetched) > inv.opts.XMLTTL {
			due = append(due, d)
		}
	}
	for uuid := range inv.domains {
		if !listed[uuid] {
			delete(inv.domains, uuid)
		}
	}
	inv.mu.Unlock()
	for _, d := range due {
		if ctx.Err() != nil {
			return
		}
		doc, err := call(ctx, inv.opts.CallTimeout, func() (string, error) { return c.DomainGetXMLDesc(d.Dom, 0) })
		var info *DomainInfo
		if err == nil {
			info, err = ParseDomainXML(doc, inv.opts.MetadataKeys)
		}
		inv.mu.Lock()
		e := inv.domains[d.UUID]
		if e == nil {
			e = &domainEntry{}
			inv.domains[d.UUID] = e
		}
		if err != nil {
			// Keep what was known; a vanished domain is forgotten when the
			// next scrape no longer lists it.
			if !e.failed {
				inv.opts.Logger.Debug("read domain XML failed", "domain", d.Dom.Name, "uuid", d.UUID, "err", err)
			}
			e.failed, e.fetched = true, now
		} else {
			e.info, e.fetched, e.stale, e.failed = info, now, false, false
		}
		inv.mu.Unlock()
	}
}

// call runs one libvirt call bounded by timeout.
func call[T any](ctx context.Context, timeout time.Duration, fn func() (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return virt.Call(ctx, fn)
}
