package collector

// The families of the libvirt collector: what it reads from each stats
// field, and what the inventory adds. exporter/README.md ("Metrics") lists
// them; the golden files in testdata/ hold their output.

// scalarDef maps one per-domain domstats field to a family.
type scalarDef struct {
	field, name, help string
	counter           bool
	scale             float64 // multiplies the raw value: ns to s, KiB to bytes
}

const (
	nsToSeconds = 1e-9
	kibToBytes  = 1024
)

// scalarDefs are the per-domain fields of the cpu-total, vcpu and balloon
// groups. balloon.swap_*, *_fault, disk_caches, usable, available and
// unused need the guest's virtio balloon driver and a stats period; libvirt
// leaves them out otherwise.
var scalarDefs = [...]scalarDef{
	{"cpu.time", "domain_cpu_seconds_total", "CPU time used by the domain (domstats cpu.time).", true, nsToSeconds},
	{"cpu.user", "domain_cpu_user_seconds_total", "User CPU time used by the domain.", true, nsToSeconds},
	{"cpu.system", "domain_cpu_system_seconds_total", "System CPU time used by the domain.", true, nsToSeconds},
	{"vcpu.current", "domain_vcpus", "Virtual CPUs currently online.", false, 1},
	{"vcpu.maximum", "domain_vcpus_max", "Maximum virtual CPUs.", false, 1},
	{"balloon.current", "domain_memory_current_bytes", "Memory currently given to the domain (balloon.current).", false, kibToBytes},
	{"balloon.maximum", "domain_memory_max_bytes", "Maximum memory of the domain (balloon.maximum).", false, kibToBytes},
	{"balloon.usable", "domain_memory_usable_bytes", "Memory the guest could use without swapping, as its balloon driver reports (balloon.usable).", false, kibToBytes},
	{"balloon.available", "domain_memory_available_bytes", "Memory the guest sees (balloon.available).", false, kibToBytes},
	{"balloon.rss", "domain_memory_rss_bytes", "Resident set size of the hypervisor process (balloon.rss).", false, kibToBytes},
	{"balloon.unused", "domain_memory_unused_bytes", "Memory left unused by the guest (balloon.unused).", false, kibToBytes},
	{"balloon.disk_caches", "domain_memory_disk_cache_bytes", "Memory the guest uses for disk caches and could reclaim (balloon.disk_caches).", false, kibToBytes},
	{"balloon.swap_in", "domain_memory_swap_in_bytes_total", "Data the guest read from its swap space (balloon.swap_in).", true, kibToBytes},
	{"balloon.swap_out", "domain_memory_swap_out_bytes_total", "Data the guest wrote to its swap space (balloon.swap_out).", true, kibToBytes},
	{"balloon.major_fault", "domain_memory_major_faults_total", "Page faults in the guest that needed disk I/O (balloon.major_fault).", true, 1},
	{"balloon.minor_fault", "domain_memory_minor_faults_total", "Page faults in the guest served without disk I/O (balloon.minor_fault).", true, 1},
}

const numScalars = len(scalarDefs)

// scalarIndex finds a field's position in scalarDefs.
var scalarIndex = func() map[string]int {
	m := make(map[string]int, numScalars)
	for i, d := range scalarDefs {
		m[d.field] = i
	}
	return m
}()

// deviceMetric maps one per-device field ("<key>" of block.<n>.<key>,
// net.<n>.<key>, vcpu.<n>.<key>) to a family.
type deviceMetric struct {
	key   string
	fam   *familyDef
	scale float64
}

type scalarFamily struct {
	fam   *familyDef
	scale float64
}

// libvirtFamilies are the libvirt collector's families.
type libvirtFamilies struct {
	up, inFlight, nDomains, info, state, stateReason *familyDef
	scalars                                          [numScalars]scalarFamily
	vcpu, block, net                                 []deviceMetric
	vcpuKeys, blockKeys, netKeys                     map[string]int // field key -> index in vcpu, block, net

	osInfo, blockInfo, ifaceInfo, openstackInfo, metadataInfo *familyDef
	jobType, jobOperation, jobProgress                        *familyDef
	jobValues                                                 []deviceMetric // by job stats field
	poolState, poolCapacity, poolAllocation, poolAvailable    *familyDef
}

// define builds the families and returns them all, up first (the first
// series a scrape reports, even a failed one).
func (f *libvirtFamilies) define() []*familyDef {
	var all []*familyDef
	g := func(name, help string, labels ...string) *familyDef {
		d := newFamily(name, help, false, labels...)
		all = append(all, d)
		return d
	}
	c := func(name, help string, labels ...string) *familyDef {
		d := newFamily(name, help, true, labels...)
		all = append(all, d)
		return d
	}
	// Label names, sorted as every series carries them.
	constL := []string{"cloud", "host"}
	domL := []string{"cloud", "domain", "host", "uuid"}
	vcpuL := []string{"cloud", "domain", "host", "uuid", "vcpu"}
	blkL := []string{"cloud", "device", "domain", "host", "path", "uuid"}
	netL := []string{"cloud", "domain", "host", "interface", "uuid"}
	poolL := []string{"cloud", "host", "pool"}
	f.up = g("libvirt_up", "1 if this scrape's libvirt stats call succeeded, else 0.", constL...)
	f.inFlight = g("libvirt_call_in_flight_seconds", "How long the libvirt stats call still running has been waiting for libvirtd, 0 if none: a scrape that finds one running fails at once, so a value that keeps growing means a hung libvirtd.", constL...)
	f.nDomains = g("libvirt_domains", "Domains libvirt reported in this scrape, active and inactive.", constL...)
	f.info = g("domain_info", "Always 1; identifies a domain known to libvirt.", domL...)
	f.state = g("domain_state", "libvirt domain state: 0 nostate, 1 running, 2 blocked, 3 paused, 4 shutdown, 5 shutoff, 6 crashed, 7 pmsuspended.", domL...)
	f.stateReason = g("domain_state_reason", "libvirt reason code for the current state (virDomain<State>Reason).", domL...)
	for i, d := range scalarDefs {
		f.scalars[i] = scalarFamily{fam: newFamily(d.name, d.help, d.counter, domL...), scale: d.scale}
		all = append(all, f.scalars[i].fam)
	}

	f.vcpu = []deviceMetric{
		{"state", g("domain_vcpu_state", "State of a vCPU (vcpu.<n>.state): 0 offline, 1 running, 2 blocked.", vcpuL...), 1},
		{"time", c("domain_vcpu_seconds_total", "CPU time used by a vCPU (vcpu.<n>.time).", vcpuL...), nsToSeconds},
		{"wait", c("domain_vcpu_wait_seconds_total", "Time a vCPU wanted to run but waited, on I/O or for the host (vcpu.<n>.wait).", vcpuL...), nsToSeconds},
		{"delay", c("domain_vcpu_delay_seconds_total", "Time a runnable vCPU waited in the host's run queue (vcpu.<n>.delay); the guest sees it as steal time.", vcpuL...), nsToSeconds},
	}
	f.block = []deviceMetric{
		{"rd.bytes", c("domain_block_read_bytes_total", "Bytes read from a block device.", blkL...), 1},
		{"wr.bytes", c("domain_block_write_bytes_total", "Bytes written to a block device.", blkL...), 1},
		{"rd.reqs", c("domain_block_read_requests_total", "Read requests on a block device.", blkL...), 1},
		{"wr.reqs", c("domain_block_write_requests_total", "Write requests on a block device.", blkL...), 1},
		{"fl.reqs", c("domain_block_flush_requests_total", "Flush requests on a block device.", blkL...), 1},
		{"rd.times", c("domain_block_read_seconds_total", "Time spent on reads from a block device (block.<n>.rd.times).", blkL...), nsToSeconds},
		{"wr.times", c("domain_block_write_seconds_total", "Time spent on writes to a block device (block.<n>.wr.times).", blkL...), nsToSeconds},
		{"fl.times", c("domain_block_flush_seconds_total", "Time spent on flushes of a block device (block.<n>.fl.times).", blkL...), nsToSeconds},
		{"capacity", g("domain_block_capacity_bytes", "Logical size of a block device.", blkL...), 1},
		{"allocation", g("domain_block_allocation_bytes", "Highest allocated extent of a block device.", blkL...), 1},
		{"physical", g("domain_block_physical_bytes", "Physical size of a block device's backing image or device.", blkL...), 1},
	}
	f.net = []deviceMetric{
		{"rx.bytes", c("domain_network_receive_bytes_total", "Bytes received on a network interface.", netL...), 1},
		{"tx.bytes", c("domain_network_transmit_bytes_total", "Bytes transmitted on a network interface.", netL...), 1},
		{"rx.pkts", c("domain_network_receive_packets_total", "Packets received on a network interface.", netL...), 1},
		{"tx.pkts", c("domain_network_transmit_packets_total", "Packets transmitted on a network interface.", netL...), 1},
		{"rx.errs", c("domain_network_receive_errors_total", "Receive errors on a network interface.", netL...), 1},
		{"tx.errs", c("domain_network_transmit_errors_total", "Transmit errors on a network interface.", netL...), 1},
		{"rx.drop", c("domain_network_receive_drops_total", "Received packets dropped on a network interface.", netL...), 1},
		{"tx.drop", c("domain_network_transmit_drops_total", "Transmitted packets dropped on a network interface.", netL...), 1},
	}

	f.vcpuKeys, f.blockKeys, f.netKeys = keyIndex(f.vcpu), keyIndex(f.block), keyIndex(f.net)

	f.osInfo = g("domain_os_info", "Always 1; the domain's OS type, architecture and machine type (<os><type>).", "arch", "cloud", "domain", "host", "machine", "os_type", "uuid")
	f.blockInfo = g("domain_block_info", "Always 1; a disk of the domain: target device, bus, cache mode, format, source and type.", "bus", "cache", "cloud", "device", "device_type", "domain", "format", "host", "serial", "source", "type", "uuid")
	f.ifaceInfo = g("domain_interface_info", "Always 1; a network interface of the domain: target device, MAC, type, bridge, network and model.", "bridge", "cloud", "domain", "host", "interface", "mac", "model", "network", "type", "uuid")
	f.openstackInfo = g("domain_openstack_info", "Always 1; OpenStack nova's instance metadata: instance name, flavor, project and user.", "cloud", "domain", "flavor", "host", "instance_name", "project_id", "project_name", "user_id", "user_name", "uuid")
	f.metadataInfo = g("domain_metadata_info", "Always 1; the <metadata> keys named by --libvirt.metadata-label, one label each.", domL...)

	f.jobType = g("domain_job_type", "Type of the domain's job (virDomainJobType): 0 none, 1 bounded, 2 unbounded, 3 completed, 4 failed, 5 cancelled; running domains only.", domL...)
	f.jobOperation = g("domain_job_operation", "Operation of the active job (virDomainJobOperation): 2 save, 3 restore, 4 incoming migration, 5 outgoing migration, 6 snapshot, 8 dump, 9 backup.", domL...)
	f.jobProgress = g("domain_job_progress_ratio", "Share of the active job's data processed, 0..1 (data_processed / data_total).", domL...)
	f.jobValues = []deviceMetric{
		{"time_elapsed", g("domain_job_elapsed_seconds", "Time since the active job started.", domL...), 1e-3},
		{"time_remaining", g("domain_job_remaining_seconds", "Time libvirt expects the active job still needs (bounded jobs).", domL...), 1e-3},
		{"data_total", g("domain_job_data_total_bytes", "Data the active job handles in all (memory plus disks).", domL...), 1},
		{"data_processed", g("domain_job_data_processed_bytes", "Data the active job has handled.", domL...), 1},
		{"data_remaining", g("domain_job_data_remaining_bytes", "Data the active job still has to handle.", domL...), 1},
		{"memory_total", g("domain_job_memory_total_bytes", "Guest memory the active job transfers in all.", domL...), 1},
		{"memory_processed", g("domain_job_memory_processed_bytes", "Guest memory the active job has transferred.", domL...), 1},
		{"memory_remaining", g("domain_job_memory_remaining_bytes", "Guest memory the active job still has to transfer.", domL...), 1},
		{"disk_total", g("domain_job_disk_total_bytes", "Disk data the active job copies in all.", domL...), 1},
		{"disk_processed", g("domain_job_disk_processed_bytes", "Disk data the active job has copied.", domL...), 1},
		{"disk_remaining", g("domain_job_disk_remaining_bytes", "Disk data the active job still has to copy.", domL...), 1},
		{"downtime", g("domain_job_downtime_seconds", "Downtime the active migration expects when it switches over.", domL...), 1e-3},
	}

	f.poolState = g("storage_pool_state", "State of a storage pool (virStoragePoolState): 0 inactive, 1 building, 2 running, 3 degraded, 4 inaccessible.", poolL...)
	f.poolCapacity = g("storage_pool_capacity_bytes", "Logical size of a storage pool.", poolL...)
	f.poolAllocation = g("storage_pool_allocation_bytes", "Bytes of a storage pool allocated to volumes.", poolL...)
	f.poolAvailable = g("storage_pool_available_bytes", "Bytes of a storage pool still free for new volumes.", poolL...)
	return all
}

// keyIndex maps each metric's field key to its position.
func keyIndex(ms []deviceMetric) map[string]int {
	if len(ms) > maxDeviceKeys {
		panic("collector: more device fields than maxDeviceKeys")
	}
	m := make(map[string]int, len(ms))
	for i, d := range ms {
		m[d.key] = i
	}
	return m
}
