package cost

import (
	"fmt"
	"sort"
)

// Needs is what one primary's service needs in a container on the standby:
// often much less than the primary VM it runs in now.
type Needs struct {
	VCPUs    float64 `yaml:"vcpus"`
	MemoryGB float64 `yaml:"memory_gb"`
}

// StandbyFit says how many standby VMs of standby_size hold the services of
// all primaries, and what they need in total.
type StandbyFit struct {
	// Size is standby_size.
	Size string `json:"size"`
	// VMs is the number of standby VMs; at least 1.
	VMs int `json:"vms"`
	// VCPUs and MemoryGB are what the services need together.
	VCPUs    float64 `json:"vcpus"`
	MemoryGB float64 `json:"memory_gb"`
}

// needsOf is what each primary of g needs: its needs, else its size's
// shape (the service needs what its VM has).
func (c *Config) needsOf(g Group) Needs {
	if g.Needs != nil {
		return *g.Needs
	}
	s := c.Sizes[g.Size]
	return Needs{VCPUs: float64(s.VCPUs), MemoryGB: s.MemoryGB}
}

// Fit packs the primaries' services into standby VMs of standby_size,
// biggest first, each into the first VM with room (first-fit decreasing; a
// container never spans VMs). A dimension the standby size does not give
// (vcpus or memory_gb 0) does not limit it. The warm design pays for all
// these VMs; the cold design for as many, shared by its tenants.
func (c *Config) Fit() StandbyFit {
	sb := c.Sizes[c.StandbySize]
	var items []Needs
	fit := StandbyFit{Size: c.StandbySize}
	for _, g := range c.Primaries {
		n := c.needsOf(g)
		for range g.Count {
			items = append(items, n)
			fit.VCPUs += n.VCPUs
			fit.MemoryGB += n.MemoryGB
		}
	}
	share := func(n Needs) float64 {
		var s float64
		if sb.VCPUs > 0 {
			s += n.VCPUs / float64(sb.VCPUs)
		}
		if sb.MemoryGB > 0 {
			s += n.MemoryGB / sb.MemoryGB
		}
		return s
	}
	sort.SliceStable(items, func(i, j int) bool { return share(items[i]) > share(items[j]) })
	var vms []Needs // what each VM holds
	for _, n := range items {
		placed := false
		for i := range vms {
			if fitsIn(vms[i], n, sb) {
				vms[i].VCPUs += n.VCPUs
				vms[i].MemoryGB += n.MemoryGB
				placed = true
				break
			}
		}
		if !placed {
			vms = append(vms, n)
		}
	}
	fit.VMs = max(len(vms), 1)
	return fit
}

func fitsIn(held, n Needs, sb Size) bool {
	const eps = 1e-9
	return (sb.VCPUs == 0 || held.VCPUs+n.VCPUs <= float64(sb.VCPUs)+eps) &&
		(sb.MemoryGB == 0 || held.MemoryGB+n.MemoryGB <= sb.MemoryGB+eps)
}

// needsProblems checks each group's needs against the standby size: one
// service larger than a standby VM can never be recovered there.
func (c *Config) needsProblems(add func(path, format string, args ...any)) {
	sb, ok := c.Sizes[c.StandbySize]
	if !ok {
		return
	}
	for i, g := range c.Primaries {
		p := fmt.Sprintf("primaries[%d]", i)
		if g.Needs != nil && (g.Needs.VCPUs < 0 || g.Needs.MemoryGB < 0) {
			add(p+".needs", "vcpus and memory_gb cannot be negative")
			continue
		}
		if _, known := c.Sizes[g.Size]; !known {
			continue
		}
		n := c.needsOf(g)
		if !fitsIn(Needs{}, n, sb) {
			add(p+".needs", "one service needs %g vCPUs and %g GB, more than a %s standby VM has (%d vCPUs, %g GB): give the service's real needs (needs: {vcpus, memory_gb}), or a bigger standby_size",
				n.VCPUs, n.MemoryGB, c.StandbySize, sb.VCPUs, sb.MemoryGB)
		}
	}
}
