package config

import (
	"github.com/vcrcovery/vcrcovery/lxd"
)

// maxVCPUs bounds a declaration to something a VM can have; a larger
// number is a typo (memory in vcpus, say).
const maxVCPUs = 1024

// checkResources validates a service's resources block and parses its
// memory size.
func checkResources(errs *Errors, path string, r *Resources) {
	if r == nil {
		return
	}
	if r.VCPUs < 0 || r.VCPUs > maxVCPUs {
		errs.add(path+".vcpus", "%g: give the CPUs the service needs, between 0 and %d (0.5 is half a CPU)", r.VCPUs, maxVCPUs)
	}
	if r.Memory != "" {
		n, err := lxd.ParseBytes(r.Memory)
		switch {
		case err != nil:
			errs.add(path+".memory", "%v", err)
		case n < 1<<20:
			errs.add(path+".memory", "%q is less than 1MiB: give a size with its unit, e.g. 512MiB or 2GiB", r.Memory)
		default:
			r.MemoryBytes = n
		}
	}
	if r.VCPUs == 0 && r.Memory == "" {
		errs.add(path, "declares neither vcpus nor memory: give at least one, or leave resources out")
	}
}
