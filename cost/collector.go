package cost

import "github.com/prometheus/client_golang/prometheus"

// Collector exports the cost model. It recomputes on every scrape from the
// current config, so a SIGHUP-reloaded price shows up at the next scrape.
type Collector struct {
	config func() *Config

	costPerHour *prometheus.Desc
	savings     *prometheus.Desc
	standbyVMs  *prometheus.Desc
}

// NewCollector returns a collector over config, which returns the current
// cost config or nil when none is configured (then nothing is exported).
// Recovery times do not affect the exported money figures, so none are
// fetched here.
func NewCollector(config func() *Config) *Collector {
	return &Collector{
		config: config,
		costPerHour: prometheus.NewDesc("vcr_standby_cost_dollars_per_hour",
			"Hourly cost of the standby for each design in the cost model (VMs plus backup storage), in US dollars.",
			[]string{"model"}, nil),
		savings: prometheus.NewDesc("vcr_standby_savings_dollars_per_year",
			"Yearly saving of a VCRcovery design against its conventional counterpart (negative when it costs more), in US dollars.",
			[]string{"model", "versus"}, nil),
		standbyVMs: prometheus.NewDesc("vcr_standby_vms",
			"Standby VMs each design pays for (a fraction when shared by tenants).",
			[]string{"model"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.costPerHour
	ch <- c.savings
	ch <- c.standbyVMs
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	cfg := c.config()
	if cfg == nil {
		return
	}
	r := Compute(cfg, nil)
	for _, m := range r.Models {
		ch <- prometheus.MustNewConstMetric(c.costPerHour, prometheus.GaugeValue, m.HourlyUSD, m.Name)
		ch <- prometheus.MustNewConstMetric(c.standbyVMs, prometheus.GaugeValue, m.StandbyVMs, m.Name)
		if m.Baseline != "" {
			ch <- prometheus.MustNewConstMetric(c.savings, prometheus.GaugeValue, m.SavingsUSD, m.Name, m.Baseline)
		}
	}
}
