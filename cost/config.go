package cost

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vcrcovery/vcrcovery/internal/yamlx"
)

// DefaultHoursPerYear is 365 × 24: standby VMs run around the clock.
const DefaultHoursPerYear = 8760

// Model names, used as the `model` label and as keys in Config.Measure.
const (
	ConventionalWarm = "conventional-warm"
	VCRcoveryWarm    = "vcrcovery-warm"
	ConventionalCold = "conventional-cold"
	VCRcoveryCold    = "vcrcovery-cold"
)

// ModelNames lists the models in the order reports show them.
var ModelNames = []string{ConventionalWarm, VCRcoveryWarm, ConventionalCold, VCRcoveryCold}

// Config is the `cost:` block of the receiver configuration (or a file of
// its own for `vcrctl cost --cost.file`).
type Config struct {
	// HoursPerYear is how many hours a standby VM is paid for in a year;
	// 0 means DefaultHoursPerYear.
	HoursPerYear float64 `yaml:"hours_per_year"`
	// Sizes maps a VM size name to its shape and hourly price.
	Sizes map[string]Size `yaml:"sizes"`
	// Primaries are the VMs being protected.
	Primaries []Group `yaml:"primaries"`
	// StandbySize is the size of VCRcovery's one standby VM, a Sizes key.
	StandbySize string `yaml:"standby_size"`
	Cold        Cold   `yaml:"cold"`
	// Measure says which strategy's incidents give each model's measured
	// recovery time. Defaults: vcrcovery-warm → warm, vcrcovery-cold → cold.
	// Map a conventional model to the strategy that emulates it (for
	// example a VM-boot strategy) to measure it too.
	Measure map[string]string `yaml:"measure"`
}

// Size is one VM size from a price list.
type Size struct {
	VCPUs     int     `yaml:"vcpus"`
	MemoryGB  float64 `yaml:"memory_gb"`
	HourlyUSD float64 `yaml:"hourly_usd"`
	// Source says where the price comes from, shown beside the table.
	Source string `yaml:"source"`
}

// Group is Count primaries of one size.
type Group struct {
	Size  string `yaml:"size"`
	Count int    `yaml:"count"`
	// Needs is what each one's service needs on the standby; nil means
	// the size's vcpus and memory_gb.
	Needs *Needs `yaml:"needs"`
}

// Cold describes the cold standbys: backups kept in object or snapshot
// storage, and VCRcovery's standby VM shared by Tenants service providers.
type Cold struct {
	// Tenants is how many service providers share one VCRcovery cold
	// standby VM; 0 means 1 (not shared).
	Tenants int `yaml:"tenants"`
	// StorageGBMonthUSD is the storage price per GB and month.
	StorageGBMonthUSD float64 `yaml:"storage_gb_month_usd"`
	// BackupGB is the size of one primary's backup.
	BackupGB float64 `yaml:"backup_gb"`
}

// Load reads and validates a cost config file holding the block's content
// at the top level (sizes, primaries, ...), or a receiver config holding it
// under `cost:`.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read cost config: %w; check the file name", err)
	}
	var probe map[string]yaml.Node
	if err := yaml.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%s: decode YAML: %w", path, err)
	}
	if node, ok := probe["cost"]; ok {
		// A receiver config: decode only its cost block, strictly.
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		if err := enc.Encode(&node); err != nil {
			return nil, fmt.Errorf("%s: re-encode cost block: %w", path, err)
		}
		data = buf.Bytes()
	} else if _, ok := probe["services"]; ok {
		return nil, fmt.Errorf("%s has no cost: block: add one (see cost/testdata/paper.yml)", path)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes strictly (unknown keys are errors), applies defaults and
// validates.
func Parse(data []byte) (*Config, error) {
	var cfg Config
	if err := yamlx.DecodeStrict(data, &cfg); err != nil {
		if errors.Is(err, yamlx.ErrEmpty) {
			return nil, errors.New("cost config is empty: give sizes, primaries and standby_size")
		}
		return nil, fmt.Errorf("decode cost config: %w", err)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// ApplyDefaults fills the fields left out. The receiver calls it when it
// decodes the block as part of its own config.
func (c *Config) ApplyDefaults() {
	if c.HoursPerYear == 0 {
		c.HoursPerYear = DefaultHoursPerYear
	}
	if c.Cold.Tenants == 0 {
		c.Cold.Tenants = 1
	}
	if c.Measure == nil {
		c.Measure = map[string]string{}
	}
	if _, ok := c.Measure[VCRcoveryWarm]; !ok {
		c.Measure[VCRcoveryWarm] = "warm"
	}
	if _, ok := c.Measure[VCRcoveryCold]; !ok {
		c.Measure[VCRcoveryCold] = "cold"
	}
}

// Problem is one invalid field of the cost config.
type Problem struct {
	Path    string // under `cost.`, e.g. "cost.primaries[0].size"
	Message string
}

func (p Problem) String() string { return p.Path + ": " + p.Message }

// Validate reports every problem, each with its path under `cost.`, one a line.
func (c *Config) Validate() error {
	problems := c.Problems()
	if len(problems) == 0 {
		return nil
	}
	lines := make([]string, len(problems))
	for i, p := range problems {
		lines[i] = p.String()
	}
	return errors.New(strings.Join(lines, "\n"))
}

// Problems lists every problem, in path order, for callers that report
// fields themselves (the receiver's config validation).
func (c *Config) Problems() []Problem {
	var errs []Problem
	add := func(path, format string, args ...any) {
		errs = append(errs, Problem{Path: "cost." + path, Message: fmt.Sprintf(format, args...)})
	}
	if c.HoursPerYear < 0 || c.HoursPerYear > 8784 {
		add("hours_per_year", "%g is outside 0..8784 (a leap year)", c.HoursPerYear)
	}
	if len(c.Sizes) == 0 {
		add("sizes", "no VM sizes: give at least the primaries' and the standby's size with hourly_usd")
	}
	names := make([]string, 0, len(c.Sizes))
	for n := range c.Sizes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := c.Sizes[n]
		if s.HourlyUSD <= 0 {
			add("sizes."+n+".hourly_usd", "must be above 0: take it from the provider's on-demand price list")
		}
		if s.VCPUs < 0 || s.MemoryGB < 0 {
			add("sizes."+n, "vcpus and memory_gb cannot be negative")
		}
	}
	known := func(size string) bool { _, ok := c.Sizes[size]; return ok }
	if len(c.Primaries) == 0 {
		add("primaries", "no primaries: list the protected VMs as {size, count}")
	}
	for i, g := range c.Primaries {
		p := fmt.Sprintf("primaries[%d]", i)
		if !known(g.Size) {
			add(p+".size", "%q is not in sizes (known: %s)", g.Size, strings.Join(names, ", "))
		}
		if g.Count < 1 {
			add(p+".count", "%d: must be at least 1", g.Count)
		}
	}
	if c.StandbySize == "" {
		add("standby_size", "missing: name the size of VCRcovery's standby VM")
	} else if !known(c.StandbySize) {
		add("standby_size", "%q is not in sizes (known: %s)", c.StandbySize, strings.Join(names, ", "))
	}
	c.needsProblems(add)
	if c.Cold.Tenants < 0 {
		add("cold.tenants", "%d: must be at least 1", c.Cold.Tenants)
	}
	if c.Cold.StorageGBMonthUSD < 0 {
		add("cold.storage_gb_month_usd", "cannot be negative")
	}
	if c.Cold.BackupGB < 0 {
		add("cold.backup_gb", "cannot be negative")
	}
	for m := range c.Measure {
		if !slices.Contains(ModelNames, m) {
			add("measure."+m, "unknown model: use one of %s", strings.Join(ModelNames, ", "))
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].String() < errs[j].String() })
	return errs
}
