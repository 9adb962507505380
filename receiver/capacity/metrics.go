package capacity

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// scrapeTimeout bounds a scrape's reading of the standbys.
const scrapeTimeout = 8 * time.Second

var scopeLabels = []string{"scope", "name"}

// Collector exports the view's answer at each scrape (at most one reading
// of the standbys per MaxAge).
type Collector struct {
	view                                    *View
	fits, shortCPU, shortMem, estimate, und *prometheus.Desc
	remoteUp, remoteCPU, remoteMem          *prometheus.Desc
	remoteUsedCPU, remoteUsedMem            *prometheus.Desc
}

// NewCollector returns the view's metrics.
func NewCollector(v *View) *Collector {
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc("vcr_capacity_"+name, help, labels, nil)
	}
	return &Collector{
		view:          v,
		fits:          d("fits", "1 if the standbys would hold every service of the host or cloud (scope) with declared resources, were it to fail now; 0 if not, or if a standby could not be read.", scopeLabels),
		shortCPU:      d("shortfall_vcpus", "vCPUs the standbys lack to hold the services of the host or cloud, were it to fail now.", scopeLabels),
		shortMem:      d("shortfall_memory_bytes", "Memory the standbys lack to hold the services of the host or cloud, were it to fail now.", scopeLabels),
		estimate:      d("recovery_estimate_seconds", "Estimated time from the first to the last prepare of the services of the host or cloud, were it to fail now.", scopeLabels),
		und:           d("services_undeclared", "Services of the host or cloud that declare no resources and so are not counted.", scopeLabels),
		remoteUp:      d("remote_up", "1 if the LXD remote's resources and instances could be read.", []string{"remote"}),
		remoteCPU:     d("remote_vcpus", "CPUs of the LXD remote's machine.", []string{"remote"}),
		remoteMem:     d("remote_memory_bytes", "Memory of the LXD remote's machine that instances may be promised (its system's share left out).", []string{"remote"}),
		remoteUsedCPU: d("remote_used_vcpus", "vCPUs promised to the running instances of the LXD remote (their limits).", []string{"remote"}),
		remoteUsedMem: d("remote_used_memory_bytes", "Memory promised to the running instances of the LXD remote (their limits, else their use).", []string{"remote"}),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.fits, c.shortCPU, c.shortMem, c.estimate, c.und, c.remoteUp, c.remoteCPU, c.remoteMem, c.remoteUsedCPU, c.remoteUsedMem} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	ans := c.view.Capacity(ctx)
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, s := range ans.Scopes {
		gauge(c.fits, boolValue(s.Fits), s.Scope, s.Name)
		gauge(c.shortCPU, s.ShortfallVCPUs, s.Scope, s.Name)
		gauge(c.shortMem, float64(s.ShortfallMemoryBytes), s.Scope, s.Name)
		gauge(c.estimate, s.RecoverySeconds, s.Scope, s.Name)
		gauge(c.und, float64(len(s.Undeclared)), s.Scope, s.Name)
	}
	for _, r := range ans.Remotes {
		gauge(c.remoteUp, boolValue(r.Error == ""), r.Name)
		if r.Error != "" {
			continue
		}
		gauge(c.remoteCPU, r.VCPUs, r.Name)
		gauge(c.remoteMem, float64(r.MemoryBytes), r.Name)
		gauge(c.remoteUsedCPU, r.UsedVCPUs, r.Name)
		gauge(c.remoteUsedMem, float64(r.UsedMemoryBytes), r.Name)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
