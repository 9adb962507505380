package collector

import (
	"sort"

	dto "github.com/prometheus/client_model/go"
)

// emitInventory adds what the inventory cached about one domain: its info
// metrics from the XML and, if it runs, its job. Nothing here calls libvirt.
func (c *libvirtCollector) emitInventory(b *builder, uuid string, domPair, uuidPair *dto.LabelPair, running bool) {
	if info := c.inv.Info(uuid); info != nil {
		b.add(c.f.osInfo, []*dto.LabelPair{labelPair("arch", info.Arch), c.cloudPair, domPair, c.hostPair,
			labelPair("machine", info.Machine), labelPair("os_type", info.OSType), uuidPair}, 1)
		for _, d := range info.Disks {
			b.add(c.f.blockInfo, []*dto.LabelPair{labelPair("bus", d.Bus), labelPair("cache", d.Cache), c.cloudPair,
				labelPair("device", d.Device), labelPair("device_type", d.DeviceType), domPair, labelPair("format", d.Format),
				c.hostPair, labelPair("serial", d.Serial), labelPair("source", d.Source), labelPair("type", d.Type), uuidPair}, 1)
		}
		for _, n := range info.Interfaces {
			b.add(c.f.ifaceInfo, []*dto.LabelPair{labelPair("bridge", n.Bridge), c.cloudPair, domPair, c.hostPair,
				labelPair("interface", n.Device), labelPair("mac", n.MAC), labelPair("model", n.Model),
				labelPair("network", n.Network), labelPair("type", n.Type), uuidPair}, 1)
		}
		if n := info.Nova; n != nil {
			b.add(c.f.openstackInfo, []*dto.LabelPair{c.cloudPair, domPair, labelPair("flavor", n.Flavor), c.hostPair,
				labelPair("instance_name", n.Name), labelPair("project_id", n.ProjectID), labelPair("project_name", n.ProjectName),
				labelPair("user_id", n.UserID), labelPair("user_name", n.UserName), uuidPair}, 1)
		}
		if len(c.metadataNames) > 0 && len(info.Metadata) == len(c.metadataNames) {
			ml := []*dto.LabelPair{c.cloudPair, domPair, c.hostPair, uuidPair}
			for i, name := range c.metadataNames {
				ml = append(ml, labelPair(name, info.Metadata[i]))
			}
			sort.Slice(ml, func(i, j int) bool { return ml[i].GetName() < ml[j].GetName() })
			b.add(c.f.metadataInfo, ml, 1)
		}
	}
	if !running {
		return
	}
	j, ok := c.inv.Job(uuid)
	if !ok {
		return
	}
	dl := []*dto.LabelPair{c.cloudPair, domPair, c.hostPair, uuidPair}
	b.add(c.f.jobType, dl, float64(j.Type))
	if !j.Active() {
		return
	}
	b.add(c.f.jobOperation, dl, float64(j.Operation))
	if total := j.Values["data_total"]; total > 0 {
		b.add(c.f.jobProgress, dl, j.Values["data_processed"]/total)
	}
	c.emitDevice(b, c.f.jobValues, j.Values, dl)
}

// emitPools adds the storage pools of the inventory's last refresh.
func (c *libvirtCollector) emitPools(b *builder) {
	for _, p := range c.inv.Pools() {
		pl := []*dto.LabelPair{c.cloudPair, c.hostPair, labelPair("pool", p.Name)}
		b.add(c.f.poolState, pl, float64(p.State))
		b.add(c.f.poolCapacity, pl, float64(p.Capacity))
		b.add(c.f.poolAllocation, pl, float64(p.Allocation))
		b.add(c.f.poolAvailable, pl, float64(p.Available))
	}
}
