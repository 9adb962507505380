package lxd

import (
	"context"
	"errors"
)

// Allocation is what a daemon's machine has and what its instances are
// promised: the ground a capacity check stands on.
type Allocation struct {
	// CPUs and Memory are the machine's (GET /1.0/resources); Memory is
	// what instances may be promised, after SystemReserve.
	CPUs   float64
	Memory int64
	// Instances are every instance of the project, each with what it is
	// promised.
	Instances []InstanceAllocation
}

// InstanceAllocation is one instance and what it is promised.
type InstanceAllocation struct {
	Name   string
	Status string
	// Active is true for a running or frozen instance: it holds its share.
	Active bool
	// CPUs is its CPU limit; CPULimited is false when it has none (it may
	// use every CPU, and counts 0 here).
	CPUs       float64
	CPULimited bool
	// Memory is its memory limit or, for an active instance without one,
	// what it uses now; MemoryLimited says which.
	Memory        int64
	MemoryLimited bool
	// Config is its own config, for marks.
	Config map[string]string
}

// SystemReserve is the memory left to the machine's own system (the VM's
// kernel, LXD itself) and never promised to an instance: a twentieth of
// it, at least 256 MiB and at most 1 GiB. Promising all of a VM's memory to
// containers would hand its system to the OOM killer.
func SystemReserve(total int64) int64 {
	return min(max(total/20, 256<<20), 1<<30)
}

// Used adds up what the active instances other than except are promised.
func (a *Allocation) Used(except string) (cpus float64, memory int64) {
	for _, in := range a.Instances {
		if in.Active && in.Name != except {
			cpus += in.CPUs
			memory += in.Memory
		}
	}
	return cpus, memory
}

// Instance returns the named instance's allocation, or nil.
func (a *Allocation) Instance(name string) *InstanceAllocation {
	for i := range a.Instances {
		if a.Instances[i].Name == name {
			return &a.Instances[i]
		}
	}
	return nil
}

// Allocation reads the machine's resources and every instance's limits. An
// active instance without a memory limit counts with what it uses now
// (one more request per such instance).
func (c *Client) Allocation(ctx context.Context) (*Allocation, error) {
	res, err := c.GetResources(ctx)
	if err != nil {
		return nil, err
	}
	insts, err := c.ListInstances(ctx)
	if err != nil {
		return nil, err
	}
	a := &Allocation{CPUs: float64(res.CPU.Total), Memory: res.Memory.Total - SystemReserve(res.Memory.Total)}
	for _, in := range insts {
		ia := InstanceAllocation{Name: in.Name, Status: in.Status, Config: in.Config,
			Active: in.StatusCode == StatusRunning || in.StatusCode == StatusFrozen}
		// LXD validated the limits when they were set; one we cannot read
		// counts as no limit.
		ia.CPUs, ia.CPULimited, _ = in.CPULimit()
		ia.Memory, ia.MemoryLimited, _ = in.MemoryLimit(res.Memory.Total)
		if ia.Active && !ia.MemoryLimited {
			st, err := c.GetInstanceState(ctx, in.Name)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return nil, err
			}
			if err == nil {
				ia.Memory = st.Memory.Usage
			}
		}
		a.Instances = append(a.Instances, ia)
	}
	return a, nil
}
