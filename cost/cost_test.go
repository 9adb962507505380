package cost

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

func near(a, b float64) bool { return math.Abs(a-b) < 0.005 }

func TestComputeHandChecked(t *testing.T) {
	type want struct{ hourly, annual, savings, vms float64 }
	tests := []struct {
		name   string
		yaml   string
		models map[string]want
		shared []TenantCost
	}{
		{
			// The paper's setup (testdata/paper.yml), $0.578/h per VM:
			//   one VM-year   = 0.578 × 8760        = 5,063.28
			//   conv warm     = 4 × 5,063.28         = 20,253.12
			//   vcr warm      = 1 × 5,063.28         = 5,063.28   saves 15,189.84
			//   storage       = 4 × 30 GB × 0.05 × 12 = 72.00 a year
			//   conv cold     = 72.00                (hourly 72 / 8760 = 0.008219)
			//   vcr cold, k=4 = 5,063.28 / 4 + 72    = 1,337.82   costs 1,265.82 more
			name: "paper",
			yaml: "@testdata/paper.yml",
			models: map[string]want{
				ConventionalWarm: {0.578 * 4, 20253.12, 0, 4},
				VCRcoveryWarm:    {0.578, 5063.28, 15189.84, 1},
				ConventionalCold: {72.0 / 8760, 72.00, 0, 0},
				VCRcoveryCold:    {0.578/4 + 72.0/8760, 1337.82, -1265.82, 0.25},
			},
			// k=1: 5,063.28 + 72 = 5,135.28; k=2: 2,531.64 + 72 = 2,603.64;
			// k=8: 632.91 + 72 = 704.91; k=16: 316.455 + 72 = 388.455.
			shared: []TenantCost{{1, 5135.28}, {2, 2603.64}, {4, 1337.82}, {8, 704.91}, {16, 388.455}},
		},
		{
			// Mixed primaries, a standby as big as the biggest one, no sharing;
			// their services need 3 × (1, 4 GB) + (4, 16 GB) = 7 vCPUs, 28 GB,
			// which one big VM (8, 32 GB) holds:
			//   primaries/h = 3 × 0.10 + 1 × 0.40    = 0.70
			//   conv warm   = 0.70 × 8760            = 6,132.00
			//   vcr warm    = 0.40 × 8760            = 3,504.00   saves 2,628.00
			//   storage     = 4 × 10 GB × 0.10 × 12  = 48.00
			//   vcr cold    = 3,504 / 1 + 48         = 3,552.00   costs 3,504.00 more
			name: "mixed sizes",
			yaml: `
sizes:
  small: {vcpus: 2, memory_gb: 8, hourly_usd: 0.10}
  big: {vcpus: 8, memory_gb: 32, hourly_usd: 0.40}
primaries:
  - {size: small, count: 3, needs: {vcpus: 1, memory_gb: 4}}
  - {size: big, count: 1, needs: {vcpus: 4, memory_gb: 16}}
standby_size: big
cold: {storage_gb_month_usd: 0.10, backup_gb: 10}
`,
			models: map[string]want{
				ConventionalWarm: {0.70, 6132.00, 0, 4},
				VCRcoveryWarm:    {0.40, 3504.00, 2628.00, 1},
				ConventionalCold: {48.0 / 8760, 48.00, 0, 0},
				VCRcoveryCold:    {0.40 + 48.0/8760, 3552.00, -3504.00, 1},
			},
			shared: []TenantCost{{1, 3552}, {2, 1800}, {4, 924}, {8, 486}, {16, 267}},
		},
		{
			// The same primaries with no needs given: each service needs what
			// its VM has, 3 × (2, 8 GB) + (8, 32 GB) = 14 vCPUs, 56 GB. The big
			// one fills a standby VM, the three small ones a second:
			//   vcr warm    = 2 × 0.40 × 8760        = 7,008.00   costs 876.00 more
			//   vcr cold    = 7,008 / 1 + 48         = 7,056.00   costs 7,008.00 more
			//   shared by k = 7,008 / k + 48
			name: "the sizes decide the standby VMs",
			yaml: `
sizes:
  small: {vcpus: 2, memory_gb: 8, hourly_usd: 0.10}
  big: {vcpus: 8, memory_gb: 32, hourly_usd: 0.40}
primaries: [{size: small, count: 3}, {size: big, count: 1}]
standby_size: big
cold: {storage_gb_month_usd: 0.10, backup_gb: 10}
`,
			models: map[string]want{
				ConventionalWarm: {0.70, 6132.00, 0, 4},
				VCRcoveryWarm:    {0.80, 7008.00, -876.00, 2},
				ConventionalCold: {48.0 / 8760, 48.00, 0, 0},
				VCRcoveryCold:    {0.80 + 48.0/8760, 7056.00, -7008.00, 2},
			},
			shared: []TenantCost{{1, 7056}, {2, 3552}, {4, 1800}, {8, 924}, {16, 486}},
		},
		{
			// A month of 730 h, one primary, 3 tenants, no storage:
			//   conv warm = vcr warm = 1.00 × 730 = 730.00, saves 0
			//   vcr cold  = 730 / 3               = 243.33
			name: "one primary, month, three tenants",
			yaml: `
hours_per_year: 730
sizes: {a: {hourly_usd: 1.00}}
primaries: [{size: a, count: 1}]
standby_size: a
cold: {tenants: 3}
`,
			models: map[string]want{
				ConventionalWarm: {1, 730, 0, 1},
				VCRcoveryWarm:    {1, 730, 0, 1},
				ConventionalCold: {0, 0, 0, 0},
				VCRcoveryCold:    {1.0 / 3, 243.333, -243.333, 1.0 / 3},
			},
			shared: []TenantCost{{1, 730}, {2, 365}, {3, 243.333}, {4, 182.5}, {8, 91.25}, {16, 45.625}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseOrLoad(t, tt.yaml)
			r := Compute(cfg, nil)
			if len(r.Models) != len(ModelNames) {
				t.Fatalf("got %d models, want %d", len(r.Models), len(ModelNames))
			}
			for name, w := range tt.models {
				m := r.Model(name)
				if m == nil {
					t.Fatalf("model %s missing", name)
				}
				if !near(m.HourlyUSD, w.hourly) || !near(m.AnnualUSD, w.annual) || !near(m.SavingsUSD, w.savings) || !near(m.StandbyVMs, w.vms) {
					t.Errorf("%s: hourly %.6f annual %.4f savings %.4f vms %.3f; want %.6f %.4f %.4f %.3f",
						name, m.HourlyUSD, m.AnnualUSD, m.SavingsUSD, m.StandbyVMs, w.hourly, w.annual, w.savings, w.vms)
				}
			}
			if len(r.ColdShared) != len(tt.shared) {
				t.Fatalf("cold shared: got %v, want %v", r.ColdShared, tt.shared)
			}
			for i, w := range tt.shared {
				g := r.ColdShared[i]
				if g.Tenants != w.Tenants || !near(g.AnnualUSD, w.AnnualUSD) {
					t.Errorf("cold shared[%d] = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func parseOrLoad(t *testing.T, src string) *Config {
	t.Helper()
	var cfg *Config
	var err error
	if file, ok := strings.CutPrefix(src, "@"); ok {
		cfg, err = Load(file)
	} else {
		cfg, err = Parse([]byte(src))
	}
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestLoadFromReceiverConfig(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/receiver.yml"
	writeFile(t, file, `
services:
  - name: web
cost:
  sizes: {a: {hourly_usd: 0.5}}
  primaries: [{size: a, count: 2}]
  standby_size: a
`)
	cfg, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	// 2 × 0.5 × 8760 = 8,760 for the spares, 4,380 for one standby VM.
	r := Compute(cfg, nil)
	if got := r.Model(VCRcoveryWarm).SavingsUSD; !near(got, 4380) {
		t.Errorf("savings %.2f, want 4380.00", got)
	}

	writeFile(t, file, "services:\n  - name: web\n")
	if _, err := Load(file); err == nil || !strings.Contains(err.Error(), "no cost: block") {
		t.Errorf("receiver config without cost: got %v, want a 'no cost: block' error", err)
	}
}

func TestValidateNamesThePath(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"sizes: {a: {hourly_usd: 1}}\nprimaries: [{size: b, count: 1}]\nstandby_size: a\n", `cost.primaries[0].size: "b" is not in sizes`},
		{"sizes: {a: {hourly_usd: 0}}\nprimaries: [{size: a, count: 1}]\nstandby_size: a\n", "cost.sizes.a.hourly_usd: must be above 0"},
		{"sizes: {a: {hourly_usd: 1}}\nprimaries: [{size: a, count: 0}]\nstandby_size: a\n", "cost.primaries[0].count: 0"},
		{"sizes: {a: {hourly_usd: 1}}\nprimaries: [{size: a, count: 1}]\n", "cost.standby_size: missing"},
		{"sizes: {a: {hourly_usd: 1}}\nprimaries: [{size: a, count: 1}]\nstandby_size: z\n", `cost.standby_size: "z" is not in sizes`},
		{"sizes: {a: {hourly_usd: 1}}\nprimaries: [{size: a, count: 1}]\nstandby_size: a\ncold: {tenants: -1}\n", "cost.cold.tenants"},
		{"sizes: {a: {hourly_usd: 1}}\nprimaries: [{size: a, count: 1}]\nstandby_size: a\nmeasure: {hot: warm}\n", "cost.measure.hot: unknown model"},
		{"sizes: {a: {hourly_usd: 1, price: 2}}\n", "field price not found"},
		{"", "cost config is empty"},
		{"sizes: {a: {vcpus: 2, memory_gb: 4, hourly_usd: 1}}\nprimaries: [{size: a, count: 1, needs: {vcpus: 4}}]\nstandby_size: a\n", "cost.primaries[0].needs: one service needs 4 vCPUs and 0 GB, more than a a standby VM has (2 vCPUs, 4 GB)"},
		{"sizes: {a: {hourly_usd: 1}}\nprimaries: [{size: a, count: 1, needs: {memory_gb: -1}}]\nstandby_size: a\n", "cost.primaries[0].needs: vcpus and memory_gb cannot be negative"},
		{"sizes: {a: {hourly_usd: 1}}\nprimaries: [{size: a, count: 1}]\nstandby_size: a\n---\nstandby_size: a\n", "more than one YAML document"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tt.yaml, err, tt.want)
		}
	}
}

func TestRecoveryTimes(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	inc := func(strategy string, kind api.Kind, switchEnd time.Duration, outcome string) api.Incident {
		end := t0.Add(switchEnd)
		return api.Incident{Strategy: strategy, Kind: kind, OpenedAt: t0.Add(time.Second),
			Phases: []api.Phase{
				{Name: api.PhaseDetect, StartedAt: t0, Outcome: api.OutcomeOK},
				{Name: api.PhaseSwitch, StartedAt: end.Add(-10 * time.Millisecond), EndedAt: &end, Outcome: outcome},
			}}
	}
	incs := []api.Incident{
		inc("warm", api.KindFailover, 1200*time.Millisecond, api.OutcomeOK),
		inc("warm", api.KindDrill, 800*time.Millisecond, api.OutcomeOK),
		inc("warm", api.KindFailover, 3*time.Second, api.OutcomeOK),
		inc("warm", api.KindFailover, 9*time.Second, api.OutcomeFailed),    // never switched
		inc("warm", api.KindFailback, 100*time.Millisecond, api.OutcomeOK), // not a recovery
		inc("cold", api.KindFailover, 2*time.Second, api.OutcomeOK),
		inc("cold", api.KindFailover, 4*time.Second, api.OutcomeOK),
		{Strategy: "cold", Kind: api.KindFailover, OpenedAt: t0}, // still running
	}
	got := RecoveryTimes(incs)
	// warm: 0.8, 1.2, 3.0 → median 1.2; cold: 2, 4 → median 3.
	if w := got["warm"]; w.Count != 3 || !near(w.MedianSeconds, 1.2) || !near(w.MaxSeconds, 3) {
		t.Errorf("warm = %+v, want n=3 median 1.2 max 3", w)
	}
	if c := got["cold"]; c.Count != 2 || !near(c.MedianSeconds, 3) {
		t.Errorf("cold = %+v, want n=2 median 3", c)
	}
	cfg := parseOrLoad(t, "@testdata/paper.yml")
	r := Compute(cfg, got)
	if m := r.Model(VCRcoveryWarm); m.Recovery == nil || m.Recovery.Strategy != "warm" {
		t.Errorf("vcrcovery-warm recovery = %+v, want the warm strategy's", m.Recovery)
	}
	if m := r.Model(ConventionalWarm); m.Recovery != nil {
		t.Errorf("conventional-warm has no strategy mapped but got recovery %+v", m.Recovery)
	}
}

func TestUSD(t *testing.T) {
	for in, want := range map[float64]string{
		15189.84: "$15,189.84", 0: "$0.00", -1265.82: "-$1,265.82", 999.999: "$1,000.00",
		1234567.5: "$1,234,567.50", 0.008219: "$0.01", 100: "$100.00",
	} {
		if got := USD(in); got != want {
			t.Errorf("USD(%v) = %q, want %q", in, got, want)
		}
	}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
