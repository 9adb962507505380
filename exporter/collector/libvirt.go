package collector

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/exporter/inventory"
	"github.com/vcrcovery/vcrcovery/exporter/lifecycle"
	"github.com/vcrcovery/vcrcovery/internal/virt"
)

// The libvirt collector is on whenever the exporter follows a libvirtd.
func init() {
	registerCollector("libvirt", func(cfg Config) (Collector, error) {
		if cfg.Libvirt == nil || cfg.States == nil {
			return nil, nil
		}
		c := newLibvirtCollector(cfg.Libvirt, cfg.States, cfg.Host, cfg.Cloud)
		c.setInventory(cfg.Inventory)
		return c, nil
	})
}

// statsGroups are the domain stats fetched in the one round trip per scrape.
const statsGroups = uint32(libvirt.DomainStatsState | libvirt.DomainStatsCPUTotal | libvirt.DomainStatsBalloon |
	libvirt.DomainStatsVCPU | libvirt.DomainStatsInterface | libvirt.DomainStatsBlock)

// libvirtCollector exports every domain from one ConnectGetAllDomainStats
// call, plus what the inventory cached about it (XML info, jobs, storage
// pools). Families are defined once, in newLibvirtCollector.
type libvirtCollector struct {
	conn  connection
	cache *lifecycle.StateCache
	inv   *inventory.Inventory // nil: no XML info, jobs or pools
	now   func() time.Time
	// inflight serialises stats calls: go-libvirt's RPCs take no context,
	// so a call that outlives its scrape keeps running, and a hung libvirtd
	// must not collect a pile of them. A scrape that finds it taken fails at
	// once (pendingSince says since when) instead of waiting out its
	// timeout: Prometheus must see a hung libvirtd as vcr_libvirt_up 0 on
	// an exporter that answers, not as a dead host.
	inflight     chan struct{}
	pendingSince atomic.Int64 // unix nanoseconds the running call started, 0 if none

	defs   []*familyDef
	f      libvirtFamilies
	labels *labelCache

	// hostPair and cloudPair are the constant labels, shared by every series.
	hostPair, cloudPair *dto.LabelPair
	// metadataNames are the --libvirt.metadata-label names, in key order.
	metadataNames []string
}

// connection lends the collector the open libvirt connection, nil while
// there is none; *lifecycle.Supervisor is one.
type connection interface {
	Current() lifecycle.Client
}

func newLibvirtCollector(conn connection, cache *lifecycle.StateCache, host, cloud string) *libvirtCollector {
	c := &libvirtCollector{
		hostPair: labelPair("host", host), cloudPair: labelPair("cloud", cloud),
		conn: conn, cache: cache, now: time.Now, inflight: make(chan struct{}, 1),
	}
	c.defs = indexFamilies(c.f.define())
	c.labels = newLabelCache(c.cloudPair, c.hostPair)
	return c
}

// setInventory turns on the metrics from cached XML, jobs and pools.
func (c *libvirtCollector) setInventory(inv *inventory.Inventory) {
	c.inv = inv
	if inv != nil {
		c.metadataNames = inv.MetadataLabels()
		labels := append([]string{"cloud", "domain", "host", "uuid"}, c.metadataNames...)
		sort.Strings(labels)
		old := c.f.metadataInfo
		c.f.metadataInfo = newFamily("domain_metadata_info", old.help, false, labels...)
		c.f.metadataInfo.idx = old.idx
		c.defs[old.idx] = c.f.metadataInfo
	}
}

var errNotConnected = errors.New("not connected to libvirtd (reconnecting in the background); check that libvirtd runs and --libvirt.socket/--libvirt.uri are right")

// Update sends the series one by one, for the registry and the tests.
func (c *libvirtCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	b, err := c.build(ctx)
	b.send(ch)
	return err
}

func (c *libvirtCollector) build(ctx context.Context) (*builder, error) {
	b := newBuilder(c.defs)
	constLabels := newLabels(c.cloudPair, c.hostPair)
	client, records, start, err := c.fetch(ctx)
	if err != nil {
		b.add(c.f.up, constLabels, 0)
		b.add(c.f.inFlight, constLabels, c.pendingFor().Seconds())
		return b, err
	}
	b.add(c.f.up, constLabels, 1)
	b.add(c.f.inFlight, constLabels, 0)
	b.add(c.f.nDomains, constLabels, float64(len(records)))

	var doms []inventory.Domain
	if c.inv != nil {
		doms = make([]inventory.Domain, 0, len(records))
	}
	c.labels.begin()
	defer c.labels.end()
	cached := c.cache.Snapshot(c.now())
	for i := range records {
		uuid := virt.FormatUUID(records[i].Dom.UUID)
		running := c.emitDomain(b, &records[i], uuid, start, cached)
		delete(cached, uuid)
		if c.inv != nil {
			doms = append(doms, inventory.Domain{Dom: records[i].Dom, UUID: uuid, Running: running})
		}
	}
	// Domains libvirt no longer lists but whose last event said they failed:
	// transient domains vanish on shutoff, and their failure must stay
	// visible to the rule path for the retention period. One that stopped
	// on purpose (migrated away, saved) did not fail and is gone.
	for uuid, o := range cached {
		if v, _ := failure.ClassifyStateReason(o.State, o.Reason); v != failure.Fire {
			continue
		}
		dl := c.labels.domain(uuid, o.Name).dom
		b.add(c.f.info, dl, 1)
		b.add(c.f.state, dl, float64(o.State))
		b.add(c.f.stateReason, dl, float64(o.Reason))
	}
	if c.inv != nil {
		c.emitPools(b)
		// Refresh the cache in the background for the next scrape.
		c.inv.Kick(client, doms)
	}
	return b, nil
}

func (c *libvirtCollector) fetch(ctx context.Context) (lifecycle.Client, []libvirt.DomainStatsRecord, time.Time, error) {
	client := c.conn.Current()
	if client == nil {
		return nil, nil, time.Time{}, errNotConnected
	}
	select {
	case c.inflight <- struct{}{}:
	default:
		return nil, nil, time.Time{}, fmt.Errorf("libvirt stats: the call of an earlier scrape has been waiting for %s; libvirtd may be hung (check `virsh list`, then restart libvirtd)",
			c.pendingFor().Round(time.Millisecond))
	}
	start := c.now()
	c.pendingSince.Store(start.UnixNano())
	records, err := virt.Call(ctx, func() ([]libvirt.DomainStatsRecord, error) {
		defer func() {
			c.pendingSince.Store(0)
			<-c.inflight
		}()
		return client.ConnectGetAllDomainStats(nil, statsGroups, lifecycle.StatsFlags)
	})
	if err != nil {
		return nil, nil, start, fmt.Errorf("libvirt ConnectGetAllDomainStats: %w", err)
	}
	return client, records, start, nil
}

// pendingFor is how long the stats call still running has been waiting.
func (c *libvirtCollector) pendingFor() time.Duration {
	since := c.pendingSince.Load()
	if since == 0 {
		return 0
	}
	return max(c.now().Sub(time.Unix(0, since)), 0)
}

// domainStats holds the typed parameters of one record that are not
// per-device; per-device ones are filed by deviceParam.
type domainStats struct {
	state, reason float64
	hasState      bool
	// vals and has are indexed like libvirtFamilies.scalars.
	vals [numScalars]float64
	has  [numScalars]bool
}

// maxDeviceKeys bounds the fields of one device kind (block has the most).
const maxDeviceKeys = 16

// device is one disk, interface or vCPU of a record: its values indexed
// like its kind's []deviceMetric.
type device struct {
	name, path string
	vals       [maxDeviceKeys]float64
	has        uint16
}

// emitDomain adds one domain's series and reports whether it runs.
func (c *libvirtCollector) emitDomain(b *builder, r *libvirt.DomainStatsRecord, uuid string, start time.Time, cached map[string]lifecycle.Observation) bool {
	var s domainStats
	var blocks, nets, vcpus []device
	for _, p := range r.Params {
		f := p.Field
		switch {
		case f == "state.state":
			s.state, s.hasState = lifecycle.ParamFloat(p.Value), true
		case f == "state.reason":
			s.reason = lifecycle.ParamFloat(p.Value)
		case strings.HasPrefix(f, "block."):
			blocks = deviceParam(blocks, c.f.blockKeys, f[len("block."):], p.Value)
		case strings.HasPrefix(f, "net."):
			nets = deviceParam(nets, c.f.netKeys, f[len("net."):], p.Value)
		case strings.HasPrefix(f, "vcpu.") && f[len("vcpu.")] >= '0' && f[len("vcpu.")] <= '9':
			vcpus = deviceParam(vcpus, c.f.vcpuKeys, f[len("vcpu."):], p.Value)
		default:
			if i, ok := scalarIndex[f]; ok {
				s.vals[i], s.has[i] = lifecycle.ParamFloat(p.Value)*c.f.scalars[i].scale, true
			}
		}
	}

	// An event newer than this snapshot wins: the scrape then shows the
	// state libvirt announced, not the one it had before.
	if o, ok := cached[uuid]; ok && o.At.After(start) {
		s.state, s.reason, s.hasState = float64(o.State), float64(o.Reason), true
	}

	dls := c.labels.domain(uuid, r.Dom.Name)
	dl := dls.dom
	b.add(c.f.info, dl, 1)
	if s.hasState {
		b.add(c.f.state, dl, s.state)
		b.add(c.f.stateReason, dl, s.reason)
	}
	for i := range c.f.scalars {
		if s.has[i] {
			b.add(c.f.scalars[i].fam, dl, s.vals[i])
		}
	}
	for i := range vcpus {
		if vcpus[i].has != 0 {
			c.emitDevice(b, c.f.vcpu, &vcpus[i], dls.device(kindVCPU, i, "", ""))
		}
	}
	for i := range blocks {
		if blocks[i].name != "" {
			c.emitDevice(b, c.f.block, &blocks[i], dls.device(kindBlock, i, blocks[i].name, blocks[i].path))
		}
	}
	for i := range nets {
		if nets[i].name != "" {
			c.emitDevice(b, c.f.net, &nets[i], dls.device(kindNet, i, nets[i].name, ""))
		}
	}
	running := s.hasState && (s.state == float64(virt.StateRunning) || s.state == float64(virt.StatePaused) || s.state == float64(virt.StateBlocked))
	if c.inv != nil {
		c.emitInventory(b, uuid, dls, running)
	}
	return running
}

func (c *libvirtCollector) emitDevice(b *builder, ms []deviceMetric, d *device, labels *labelSet) {
	for i, m := range ms {
		if d.has&(1<<i) != 0 {
			b.add(m.fam, labels, d.vals[i]*m.scale)
		}
	}
}

// deviceParam files "<index>.<key>" (the part after "block.", "net." or
// "vcpu.") under device index; "count", unknown keys and malformed names
// are skipped. keys maps a key to its position in the kind's metrics.
func deviceParam(devs []device, keys map[string]int, rest string, v libvirt.TypedParamValue) []device {
	dot := strings.IndexByte(rest, '.')
	if dot <= 0 {
		return devs
	}
	idx := 0
	for _, r := range rest[:dot] {
		if r < '0' || r > '9' {
			return devs
		}
		idx = idx*10 + int(r-'0')
		if idx > 4096 {
			return devs
		}
	}
	key := rest[dot+1:]
	k, known := keys[key]
	if !known && key != "name" && key != "path" {
		return devs
	}
	for len(devs) <= idx {
		devs = append(devs, device{})
	}
	d := &devs[idx]
	switch {
	case key == "name":
		d.name, _ = v.I.(string)
	case key == "path":
		d.path, _ = v.I.(string)
	default:
		d.vals[k] = lifecycle.ParamFloat(v)
		d.has |= 1 << k
	}
	return devs
}
