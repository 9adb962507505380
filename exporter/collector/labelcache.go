package collector

import (
	"sort"
	"strconv"
	"sync"

	dto "github.com/prometheus/client_model/go"

	"github.com/vcrcovery/vcrcovery/exporter/inventory"
)

// labelCache keeps each domain's label sets, and their text, from one
// scrape to the next: names, devices and XML rarely change, so a scrape of
// 1,000 domains builds and escapes its ~15,000 label sets once, not every
// time. Entries of domains a scrape no longer sees are dropped at its end.
// Label sets are immutable once built, so a scrape may still be writing one
// out while the next reuses it.
type labelCache struct {
	cloud, host *dto.LabelPair

	mu      sync.Mutex // held from begin to end: one build at a time
	gen     uint64
	domains map[string]*domainLabels // by UUID
}

func newLabelCache(cloud, host *dto.LabelPair) *labelCache {
	return &labelCache{cloud: cloud, host: host, domains: make(map[string]*domainLabels)}
}

// begin starts a scrape; end drops the domains it did not see.
func (c *labelCache) begin() {
	c.mu.Lock()
	c.gen++
}

func (c *labelCache) end() {
	for uuid, d := range c.domains {
		if d.gen != c.gen {
			delete(c.domains, uuid)
		}
	}
	c.mu.Unlock()
}

// domain returns the label sets of a domain, rebuilt if it was renamed.
func (c *labelCache) domain(uuid, name string) *domainLabels {
	d, ok := c.domains[uuid]
	if !ok || d.name != name {
		domPair, uuidPair := labelPair("domain", name), labelPair("uuid", uuid)
		d = &domainLabels{cache: c, name: name, domPair: domPair, uuidPair: uuidPair,
			dom: newLabels(c.cloud, domPair, c.host, uuidPair), devs: make(map[devKey]*labelSet)}
		c.domains[uuid] = d
	}
	d.gen = c.gen
	return d
}

const (
	kindVCPU = iota
	kindBlock
	kindNet
)

type devKey struct {
	kind, idx  int
	name, path string
}

// domainLabels are one domain's label sets: the domain's own (cloud,
// domain, host, uuid), its devices', and its info series from the XML.
type domainLabels struct {
	cache             *labelCache
	name              string
	gen               uint64
	domPair, uuidPair *dto.LabelPair
	dom               *labelSet
	devs              map[devKey]*labelSet

	info       *inventory.DomainInfo // what infoSeries were built from
	infoSeries []infoSeries
}

type infoSeries struct {
	fam    *familyDef
	labels *labelSet
}

// device returns the label set of a vCPU (idx), a disk (name, path) or an
// interface (name).
func (d *domainLabels) device(kind, idx int, name, path string) *labelSet {
	k := devKey{kind, idx, name, path}
	if ls, ok := d.devs[k]; ok {
		return ls
	}
	c := d.cache
	var ls *labelSet
	switch kind {
	case kindVCPU:
		ls = newLabels(c.cloud, d.domPair, c.host, d.uuidPair, labelPair("vcpu", strconv.Itoa(idx)))
	case kindBlock:
		ls = newLabels(c.cloud, labelPair("device", name), d.domPair, c.host, labelPair("path", path), d.uuidPair)
	case kindNet:
		ls = newLabels(c.cloud, d.domPair, c.host, labelPair("interface", name), d.uuidPair)
	}
	d.devs[k] = ls
	return ls
}

// infoSeriesFor returns the info series of a domain's XML, built again only
// when the inventory read the XML again.
func (d *domainLabels) infoSeriesFor(f *libvirtFamilies, info *inventory.DomainInfo, metadataNames []string) []infoSeries {
	if info == d.info {
		return d.infoSeries
	}
	c := d.cache
	domPair, uuidPair := d.domPair, d.uuidPair
	out := []infoSeries{{f.osInfo, newLabels(labelPair("arch", info.Arch), c.cloud, domPair, c.host,
		labelPair("machine", info.Machine), labelPair("os_type", info.OSType), uuidPair)}}
	for _, x := range info.Disks {
		out = append(out, infoSeries{f.blockInfo, newLabels(labelPair("bus", x.Bus), labelPair("cache", x.Cache), c.cloud,
			labelPair("device", x.Device), labelPair("device_type", x.DeviceType), domPair, labelPair("format", x.Format),
			c.host, labelPair("serial", x.Serial), labelPair("source", x.Source), labelPair("type", x.Type), uuidPair)})
	}
	for _, n := range info.Interfaces {
		out = append(out, infoSeries{f.ifaceInfo, newLabels(labelPair("bridge", n.Bridge), c.cloud, domPair, c.host,
			labelPair("interface", n.Device), labelPair("mac", n.MAC), labelPair("model", n.Model),
			labelPair("network", n.Network), labelPair("type", n.Type), uuidPair)})
	}
	if n := info.Nova; n != nil {
		out = append(out, infoSeries{f.openstackInfo, newLabels(c.cloud, domPair, labelPair("flavor", n.Flavor), c.host,
			labelPair("instance_name", n.Name), labelPair("project_id", n.ProjectID), labelPair("project_name", n.ProjectName),
			labelPair("user_id", n.UserID), labelPair("user_name", n.UserName), uuidPair)})
	}
	if len(metadataNames) > 0 && len(info.Metadata) == len(metadataNames) {
		ml := []*dto.LabelPair{c.cloud, domPair, c.host, uuidPair}
		for i, name := range metadataNames {
			ml = append(ml, labelPair(name, info.Metadata[i]))
		}
		sort.Slice(ml, func(i, j int) bool { return ml[i].GetName() < ml[j].GetName() })
		out = append(out, infoSeries{f.metadataInfo, newLabels(ml...)})
	}
	d.info, d.infoSeries = info, out
	return out
}
