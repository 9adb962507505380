package collector

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vcrcovery/vcrcovery/exporter/lifecycle"
	"github.com/vcrcovery/vcrcovery/internal/virt"
)

// The libvirt collector is on whenever the exporter follows a libvirtd.
func init() {
	registerCollector("libvirt", func(cfg Config) (Collector, error) {
		if cfg.Libvirt == nil || cfg.States == nil {
			return nil, nil
		}
		return newLibvirtCollector(cfg.Libvirt, cfg.States, cfg.Host, cfg.Cloud), nil
	})
}

// statsGroups are the domain stats fetched in the one round trip per scrape.
const statsGroups = uint32(libvirt.DomainStatsState | libvirt.DomainStatsCPUTotal | libvirt.DomainStatsBalloon |
	libvirt.DomainStatsVCPU | libvirt.DomainStatsInterface | libvirt.DomainStatsBlock)

// libvirtCollector exports every domain from one ConnectGetAllDomainStats
// call. Descriptors are built once, in newLibvirtCollector.
type libvirtCollector struct {
	conn  connection
	cache *lifecycle.StateCache
	now   func() time.Time
	// inflight serialises stats calls: go-libvirt's RPCs take no context,
	// so a call that outlives its scrape keeps running, and a hung libvirtd
	// must not collect a pile of them.
	inflight chan struct{}

	up, info, state, stateReason                         *prometheus.Desc
	cpu, cpuUser, cpuSystem, vcpus, vcpusMax             *prometheus.Desc
	memCurrent, memMax, memUsable, memAvailable, memRSS  *prometheus.Desc
	memUnused                                            *prometheus.Desc
	blkRdBytes, blkWrBytes, blkRdReqs, blkWrReqs         *prometheus.Desc
	blkCapacity, blkAllocation                           *prometheus.Desc
	netRxBytes, netTxBytes, netRxPkts, netTxPkts         *prometheus.Desc
	netRxErrs, netTxErrs, netRxDrop, netTxDrop, nDomains *prometheus.Desc

	// hostPair and cloudPair are the constant labels, shared by every series.
	hostPair, cloudPair *dto.LabelPair

	// Per-device stats keys and their descriptors, in output order.
	blkCounters, blkGauges, netCounters []deviceMetric
}

// connection lends the collector the open libvirt connection, nil while
// there is none; *lifecycle.Supervisor is one.
type connection interface {
	Current() lifecycle.Client
}

type deviceMetric struct {
	key  string
	desc *prometheus.Desc
}

func newLibvirtCollector(conn connection, cache *lifecycle.StateCache, host, cloud string) *libvirtCollector {
	constLabels := prometheus.Labels{"host": host, "cloud": cloud}
	dom := []string{"domain", "uuid"}
	blk := []string{"domain", "uuid", "device", "path"}
	ifc := []string{"domain", "uuid", "interface"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, constLabels)
	}
	c := &libvirtCollector{
		hostPair: labelPair("host", host), cloudPair: labelPair("cloud", cloud),
		conn: conn, cache: cache, now: time.Now, inflight: make(chan struct{}, 1),

		up:          d("libvirt_up", "1 if this scrape's libvirt stats call succeeded, else 0.", nil),
		nDomains:    d("libvirt_domains", "Domains libvirt reported in this scrape, active and inactive.", nil),
		info:        d("domain_info", "Always 1; identifies a domain known to libvirt.", dom),
		state:       d("domain_state", "libvirt domain state: 0 nostate, 1 running, 2 blocked, 3 paused, 4 shutdown, 5 shutoff, 6 crashed, 7 pmsuspended.", dom),
		stateReason: d("domain_state_reason", "libvirt reason code for the current state (virDomain<State>Reason).", dom),
		cpu:         d("domain_cpu_seconds_total", "CPU time used by the domain (domstats cpu.time).", dom),
		cpuUser:     d("domain_cpu_user_seconds_total", "User CPU time used by the domain.", dom),
		cpuSystem:   d("domain_cpu_system_seconds_total", "System CPU time used by the domain.", dom),
		vcpus:       d("domain_vcpus", "Virtual CPUs currently online.", dom),
		vcpusMax:    d("domain_vcpus_max", "Maximum virtual CPUs.", dom),

		memCurrent:   d("domain_memory_current_bytes", "Memory currently given to the domain (balloon.current).", dom),
		memMax:       d("domain_memory_max_bytes", "Maximum memory of the domain (balloon.maximum).", dom),
		memUsable:    d("domain_memory_usable_bytes", "Memory the guest could use without swapping, as its balloon driver reports (balloon.usable).", dom),
		memAvailable: d("domain_memory_available_bytes", "Memory the guest sees (balloon.available).", dom),
		memRSS:       d("domain_memory_rss_bytes", "Resident set size of the hypervisor process (balloon.rss).", dom),
		memUnused:    d("domain_memory_unused_bytes", "Memory left unused by the guest (balloon.unused).", dom),

		blkRdBytes:    d("domain_block_read_bytes_total", "Bytes read from a block device.", blk),
		blkWrBytes:    d("domain_block_write_bytes_total", "Bytes written to a block device.", blk),
		blkRdReqs:     d("domain_block_read_requests_total", "Read requests on a block device.", blk),
		blkWrReqs:     d("domain_block_write_requests_total", "Write requests on a block device.", blk),
		blkCapacity:   d("domain_block_capacity_bytes", "Logical size of a block device.", blk),
		blkAllocation: d("domain_block_allocation_bytes", "Highest allocated extent of a block device.", blk),

		netRxBytes: d("domain_network_receive_bytes_total", "Bytes received on a network interface.", ifc),
		netTxBytes: d("domain_network_transmit_bytes_total", "Bytes transmitted on a network interface.", ifc),
		netRxPkts:  d("domain_network_receive_packets_total", "Packets received on a network interface.", ifc),
		netTxPkts:  d("domain_network_transmit_packets_total", "Packets transmitted on a network interface.", ifc),
		netRxErrs:  d("domain_network_receive_errors_total", "Receive errors on a network interface.", ifc),
		netTxErrs:  d("domain_network_transmit_errors_total", "Transmit errors on a network interface.", ifc),
		netRxDrop:  d("domain_network_receive_drops_total", "Received packets dropped on a network interface.", ifc),
		netTxDrop:  d("domain_network_transmit_drops_total", "Transmitted packets dropped on a network interface.", ifc),
	}
	c.blkCounters = []deviceMetric{{"rd.bytes", c.blkRdBytes}, {"wr.bytes", c.blkWrBytes}, {"rd.reqs", c.blkRdReqs}, {"wr.reqs", c.blkWrReqs}}
	c.blkGauges = []deviceMetric{{"capacity", c.blkCapacity}, {"allocation", c.blkAllocation}}
	c.netCounters = []deviceMetric{{"rx.bytes", c.netRxBytes}, {"tx.bytes", c.netTxBytes}, {"rx.pkts", c.netRxPkts},
		{"tx.pkts", c.netTxPkts}, {"rx.errs", c.netRxErrs}, {"tx.errs", c.netTxErrs}, {"rx.drop", c.netRxDrop}, {"tx.drop", c.netTxDrop}}
	return c
}

var errNotConnected = errors.New("not connected to libvirtd (reconnecting in the background); check that libvirtd runs and --libvirt.socket/--libvirt.uri are right")

func (c *libvirtCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	records, start, err := c.fetch(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return err
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(c.nDomains, prometheus.GaugeValue, float64(len(records)))

	cached := c.cache.Snapshot(c.now())
	for i := range records {
		uuid := virt.FormatUUID(records[i].Dom.UUID)
		c.emitDomain(ch, &records[i], uuid, start, cached)
		delete(cached, uuid)
	}
	// Domains libvirt no longer lists but whose last event said they stopped
	// or crashed: transient domains vanish on shutoff, and their failure must
	// stay visible to the rule path for the retention period.
	for uuid, o := range cached {
		if o.State != virt.StateShutoff && o.State != virt.StateCrashed {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, o.Name, uuid)
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, float64(o.State), o.Name, uuid)
	}
	return nil
}

func (c *libvirtCollector) fetch(ctx context.Context) ([]libvirt.DomainStatsRecord, time.Time, error) {
	client := c.conn.Current()
	if client == nil {
		return nil, time.Time{}, errNotConnected
	}
	select {
	case c.inflight <- struct{}{}:
	case <-ctx.Done():
		return nil, time.Time{}, fmt.Errorf("libvirt stats: an earlier call is still pending: %w; libvirtd may be hung", ctx.Err())
	}
	start := c.now()
	records, err := virt.Call(ctx, func() ([]libvirt.DomainStatsRecord, error) {
		defer func() { <-c.inflight }()
		return client.ConnectGetAllDomainStats(nil, statsGroups, lifecycle.StatsFlags)
	})
	if err != nil {
		return nil, start, fmt.Errorf("libvirt ConnectGetAllDomainStats: %w", err)
	}
	return records, start, nil
}

// domainStats holds the typed parameters of one record that are not
// per-device; per-device ones are emitted as they are read.
type domainStats struct {
	state, reason            float64
	hasState                 bool
	cpu, cpuUser, cpuSystem  float64
	hasCPU, hasUser, hasSys  bool
	vcpus, vcpusMax          float64
	hasVcpus, hasVcpusMax    bool
	memCur, memMax, memUsa   float64
	memAvail, memRSS, memUnu float64
	memMask                  uint8
}

const (
	memCur = 1 << iota
	memMax
	memUsa
	memAvail
	memRSS
	memUnu
)

type device struct {
	name, path string
	vals       map[string]float64
}

func (c *libvirtCollector) emitDomain(ch chan<- prometheus.Metric, r *libvirt.DomainStatsRecord, uuid string, start time.Time, cached map[string]lifecycle.Observation) {
	name := r.Dom.Name
	var s domainStats
	var blocks, nets []device
	for _, p := range r.Params {
		f := p.Field
		switch {
		case f == "state.state":
			s.state, s.hasState = lifecycle.ParamFloat(p.Value), true
		case f == "state.reason":
			s.reason = lifecycle.ParamFloat(p.Value)
		case f == "cpu.time":
			s.cpu, s.hasCPU = lifecycle.ParamFloat(p.Value)/1e9, true
		case f == "cpu.user":
			s.cpuUser, s.hasUser = lifecycle.ParamFloat(p.Value)/1e9, true
		case f == "cpu.system":
			s.cpuSystem, s.hasSys = lifecycle.ParamFloat(p.Value)/1e9, true
		case f == "vcpu.current":
			s.vcpus, s.hasVcpus = lifecycle.ParamFloat(p.Value), true
		case f == "vcpu.maximum":
			s.vcpusMax, s.hasVcpusMax = lifecycle.ParamFloat(p.Value), true
		case strings.HasPrefix(f, "balloon."):
			v := lifecycle.ParamFloat(p.Value) * 1024 // KiB
			switch f[len("balloon."):] {
			case "current":
				s.memCur, s.memMask = v, s.memMask|memCur
			case "maximum":
				s.memMax, s.memMask = v, s.memMask|memMax
			case "usable":
				s.memUsa, s.memMask = v, s.memMask|memUsa
			case "available":
				s.memAvail, s.memMask = v, s.memMask|memAvail
			case "rss":
				s.memRSS, s.memMask = v, s.memMask|memRSS
			case "unused":
				s.memUnu, s.memMask = v, s.memMask|memUnu
			}
		case strings.HasPrefix(f, "block."):
			blocks = deviceParam(blocks, f[len("block."):], p.Value)
		case strings.HasPrefix(f, "net."):
			nets = deviceParam(nets, f[len("net."):], p.Value)
		}
	}

	// An event newer than this snapshot wins: the scrape then shows the
	// state libvirt announced, not the one it had before.
	if o, ok := cached[uuid]; ok && o.At.After(start) {
		s.state, s.hasState = float64(o.State), true
	}

	// Label pairs sorted by name: cloud, [device], domain, host, [interface], [path], uuid.
	domPair, uuidPair := labelPair("domain", name), labelPair("uuid", uuid)
	dl := []*dto.LabelPair{c.cloudPair, domPair, c.hostPair, uuidPair}
	emit := func(desc *prometheus.Desc, labels []*dto.LabelPair, v float64, counter bool) {
		ch <- &series{desc: desc, labels: labels, value: v, counter: counter}
	}
	emit(c.info, dl, 1, false)
	if s.hasState {
		emit(c.state, dl, s.state, false)
		emit(c.stateReason, dl, s.reason, false)
	}
	if s.hasCPU {
		emit(c.cpu, dl, s.cpu, true)
	}
	if s.hasUser {
		emit(c.cpuUser, dl, s.cpuUser, true)
	}
	if s.hasSys {
		emit(c.cpuSystem, dl, s.cpuSystem, true)
	}
	if s.hasVcpus {
		emit(c.vcpus, dl, s.vcpus, false)
	}
	if s.hasVcpusMax {
		emit(c.vcpusMax, dl, s.vcpusMax, false)
	}
	for _, m := range []struct {
		bit  uint8
		desc *prometheus.Desc
		v    float64
	}{
		{memCur, c.memCurrent, s.memCur}, {memMax, c.memMax, s.memMax}, {memUsa, c.memUsable, s.memUsa},
		{memAvail, c.memAvailable, s.memAvail}, {memRSS, c.memRSS, s.memRSS}, {memUnu, c.memUnused, s.memUnu},
	} {
		if s.memMask&m.bit != 0 {
			emit(m.desc, dl, m.v, false)
		}
	}
	for _, b := range blocks {
		if b.name == "" {
			continue
		}
		bl := []*dto.LabelPair{c.cloudPair, labelPair("device", b.name), domPair, c.hostPair, labelPair("path", b.path), uuidPair}
		for _, m := range c.blkCounters {
			if v, ok := b.vals[m.key]; ok {
				emit(m.desc, bl, v, true)
			}
		}
		for _, m := range c.blkGauges {
			if v, ok := b.vals[m.key]; ok {
				emit(m.desc, bl, v, false)
			}
		}
	}
	for _, n := range nets {
		if n.name == "" {
			continue
		}
		nl := []*dto.LabelPair{c.cloudPair, domPair, c.hostPair, labelPair("interface", n.name), uuidPair}
		for _, m := range c.netCounters {
			if v, ok := n.vals[m.key]; ok {
				emit(m.desc, nl, v, true)
			}
		}
	}
}

// deviceParam files "<index>.<key>" (the part after "block." or "net.")
// under device index; "count" and malformed names are skipped.
func deviceParam(devs []device, rest string, v libvirt.TypedParamValue) []device {
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
	for len(devs) <= idx {
		devs = append(devs, device{})
	}
	d := &devs[idx]
	key := rest[dot+1:]
	switch key {
	case "name":
		d.name, _ = v.I.(string)
	case "path":
		d.path, _ = v.I.(string)
	default:
		if d.vals == nil {
			d.vals = make(map[string]float64, 8)
		}
		d.vals[key] = lifecycle.ParamFloat(v)
	}
	return devs
}
