package collector

// emitInventory adds what the inventory cached about one domain: its info
// metrics from the XML and, if it runs, its job. Nothing here calls libvirt.
func (c *libvirtCollector) emitInventory(b *builder, uuid string, dls *domainLabels, running bool) {
	if info := c.inv.Info(uuid); info != nil {
		for _, s := range dls.infoSeriesFor(&c.f, info, c.metadataNames) {
			b.add(s.fam, s.labels, 1)
		}
	}
	if !running {
		return
	}
	j, ok := c.inv.Job(uuid)
	if !ok {
		return
	}
	dl := dls.dom
	b.add(c.f.jobType, dl, float64(j.Type))
	if !j.Active() {
		return
	}
	b.add(c.f.jobOperation, dl, float64(j.Operation))
	if total := j.Values["data_total"]; total > 0 {
		b.add(c.f.jobProgress, dl, j.Values["data_processed"]/total)
	}
	for _, m := range c.f.jobValues {
		if v, ok := j.Values[m.key]; ok {
			b.add(m.fam, dl, v*m.scale)
		}
	}
}

// emitPools adds the storage pools of the inventory's last refresh.
func (c *libvirtCollector) emitPools(b *builder) {
	for _, p := range c.inv.Pools() {
		pl := newLabels(c.cloudPair, c.hostPair, labelPair("pool", p.Name))
		b.add(c.f.poolState, pl, float64(p.State))
		b.add(c.f.poolCapacity, pl, float64(p.Capacity))
		b.add(c.f.poolAllocation, pl, float64(p.Allocation))
		b.add(c.f.poolAvailable, pl, float64(p.Available))
	}
}
