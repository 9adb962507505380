package cost

import (
	"sort"
	"strconv"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// Report is the computed comparison.
type Report struct {
	HoursPerYear float64 `json:"hours_per_year"`
	// Primaries is how many VMs are protected.
	Primaries int     `json:"primaries"`
	Models    []Model `json:"models"`
	// ColdShared is VCRcovery cold's annual cost for one tenant as the
	// number of tenants sharing the standby VM grows (the paper's Fig. 7).
	ColdShared []TenantCost `json:"cold_shared"`
	// Sources are the price sources from the config, by size.
	Sources map[string]string `json:"sources,omitempty"`
	// Fit is how many standby VMs hold the primaries' services, from their
	// vCPUs and memory; the VCRcovery designs pay for that many.
	Fit StandbyFit `json:"standby_fit"`
}

// Model is one standby design's yearly cost.
type Model struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	// StandbyVMs is how many standby VMs this design pays for (a fraction
	// when the VM is shared).
	StandbyVMs float64 `json:"standby_vms"`
	// HourlyUSD is what the standby costs per hour, VMs and storage.
	HourlyUSD float64 `json:"hourly_usd"`
	AnnualUSD float64 `json:"annual_usd"`
	// Baseline is the conventional design this one is compared with; empty
	// for the conventional designs themselves.
	Baseline string `json:"baseline,omitempty"`
	// SavingsUSD is Baseline's annual cost minus this one's (negative when
	// this design costs more).
	SavingsUSD float64 `json:"savings_usd"`
	// Recovery is the measured detect→switch time of the strategy that
	// implements this design, nil if none was measured.
	Recovery *Recovery `json:"recovery,omitempty"`
}

// Recovery summarizes measured recovery times.
type Recovery struct {
	Strategy string `json:"strategy"`
	// Count is how many completed recoveries were measured.
	Count         int     `json:"count"`
	MedianSeconds float64 `json:"median_seconds"`
	MaxSeconds    float64 `json:"max_seconds"`
}

// TenantCost is VCRcovery cold's cost for one tenant when Tenants share.
type TenantCost struct {
	Tenants   int     `json:"tenants"`
	AnnualUSD float64 `json:"annual_usd"`
}

// Model returns the named model, or nil.
func (r *Report) Model(name string) *Model {
	for i := range r.Models {
		if r.Models[i].Name == name {
			return &r.Models[i]
		}
	}
	return nil
}

// Compute prices the four designs. recoveries (from RecoveryTimes) may be
// nil. cfg must have been validated.
func Compute(cfg *Config, recoveries map[string]Recovery) *Report {
	h := cfg.HoursPerYear
	if h == 0 {
		h = DefaultHoursPerYear
	}
	var primaries int
	var primaryHourly float64 // all primaries together, per hour
	for _, g := range cfg.Primaries {
		primaries += g.Count
		primaryHourly += float64(g.Count) * cfg.Sizes[g.Size].HourlyUSD
	}
	standby := cfg.Sizes[cfg.StandbySize].HourlyUSD
	tenants := max(cfg.Cold.Tenants, 1)
	// Storage is billed by the month; spread it over the hours so the
	// hourly figures add up to the annual ones.
	storageAnnual := float64(primaries) * cfg.Cold.BackupGB * cfg.Cold.StorageGBMonthUSD * 12
	storageHourly := storageAnnual / h

	// The standby VMs that hold every service at once: one, as in the
	// paper, when their vCPUs and memory fit one standby_size VM.
	fit := cfg.Fit()
	vms := float64(fit.VMs)
	r := &Report{HoursPerYear: h, Primaries: primaries, Fit: fit}
	// Conventional warm: one spare of the same size per primary, always on.
	r.Models = append(r.Models, Model{Name: ConventionalWarm, Title: "Conventional warm (1 spare VM per primary)",
		StandbyVMs: float64(primaries), HourlyUSD: primaryHourly})
	// VCRcovery warm: standby VMs holding a container per service.
	r.Models = append(r.Models, Model{Name: VCRcoveryWarm, Title: "VCRcovery warm (" + vmsText(fit.VMs) + ", 1 container per service)",
		StandbyVMs: vms, HourlyUSD: standby * vms, Baseline: ConventionalWarm})
	// Conventional cold: backups only; VMs are booted after the failure.
	r.Models = append(r.Models, Model{Name: ConventionalCold, Title: "Conventional cold (backups only)",
		HourlyUSD: storageHourly})
	// VCRcovery cold: the same backups plus a share of idle VMs that can
	// hold all of a tenant's services at once.
	r.Models = append(r.Models, Model{Name: VCRcoveryCold, Title: "VCRcovery cold (" + vmsText(fit.VMs) + " shared by " + strconv.Itoa(tenants) + " tenants)",
		StandbyVMs: vms / float64(tenants), HourlyUSD: standby*vms/float64(tenants) + storageHourly, Baseline: ConventionalCold})
	if tenants == 1 {
		r.Models[3].Title = "VCRcovery cold (" + vmsText(fit.VMs) + ", not shared)"
	}
	for i := range r.Models {
		m := &r.Models[i]
		m.AnnualUSD = m.HourlyUSD * h
		if rec, ok := recoveries[cfg.Measure[m.Name]]; ok && cfg.Measure[m.Name] != "" {
			m.Recovery = &rec
		}
	}
	for i := range r.Models {
		m := &r.Models[i]
		if b := r.Model(m.Baseline); b != nil {
			m.SavingsUSD = b.AnnualUSD - m.AnnualUSD
		}
	}
	for _, k := range tenantSteps(tenants) {
		r.ColdShared = append(r.ColdShared, TenantCost{Tenants: k, AnnualUSD: standby*vms*h/float64(k) + storageAnnual})
	}
	for name, s := range cfg.Sizes {
		if s.Source != "" {
			if r.Sources == nil {
				r.Sources = map[string]string{}
			}
			r.Sources[name] = s.Source
		}
	}
	return r
}

func vmsText(n int) string {
	if n == 1 {
		return "1 VM"
	}
	return strconv.Itoa(n) + " VMs"
}

// tenantSteps is 1, 2, 4, 8, 16 plus the configured count: enough points to
// show how fast sharing pays off.
func tenantSteps(configured int) []int {
	steps := []int{1, 2, 4, 8, 16}
	for _, s := range steps {
		if s == configured {
			return steps
		}
	}
	steps = append(steps, configured)
	sort.Ints(steps)
	return steps
}

// RecoveryTimes measures, per strategy, the detect→switch time of completed
// failovers and drills: from the start of the detect phase to the end of
// the switch phase, the interval the paper calls recovery time (primary
// stopped → DNS update done). Failbacks and scale-ups are left out: they
// are not recoveries from a failure.
func RecoveryTimes(incidents []api.Incident) map[string]Recovery {
	byStrategy := map[string][]float64{}
	for i := range incidents {
		inc := &incidents[i]
		if inc.Kind != api.KindFailover && inc.Kind != api.KindDrill && inc.Kind != "" {
			continue
		}
		d, ok := DetectToSwitch(inc)
		if !ok {
			continue
		}
		byStrategy[inc.Strategy] = append(byStrategy[inc.Strategy], d.Seconds())
	}
	out := make(map[string]Recovery, len(byStrategy))
	for s, ds := range byStrategy {
		sort.Float64s(ds)
		out[s] = Recovery{Strategy: s, Count: len(ds), MedianSeconds: median(ds), MaxSeconds: ds[len(ds)-1]}
	}
	return out
}

// DetectToSwitch is the time from detection to a completed DNS switch, and
// false if the incident never completed its switch.
func DetectToSwitch(inc *api.Incident) (time.Duration, bool) {
	sw := inc.Phase(api.PhaseSwitch)
	if sw == nil || sw.Outcome != api.OutcomeOK || sw.EndedAt == nil {
		return 0, false
	}
	start := inc.OpenedAt
	if det := inc.Phase(api.PhaseDetect); det != nil && !det.StartedAt.IsZero() {
		start = det.StartedAt
	}
	if start.IsZero() || sw.EndedAt.Before(start) {
		return 0, false
	}
	return sw.EndedAt.Sub(start), true
}

// median of sorted values.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
