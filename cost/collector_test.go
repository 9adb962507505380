package cost

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCollector(t *testing.T) {
	cfg := parseOrLoad(t, "@testdata/paper.yml")
	c := NewCollector(func() *Config { return cfg })
	want := `
# HELP vcr_standby_savings_dollars_per_year Yearly saving of a VCRcovery design against its conventional counterpart (negative when it costs more), in US dollars.
# TYPE vcr_standby_savings_dollars_per_year gauge
vcr_standby_savings_dollars_per_year{model="vcrcovery-cold",versus="conventional-cold"} -1265.82
vcr_standby_savings_dollars_per_year{model="vcrcovery-warm",versus="conventional-warm"} 15189.84
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "vcr_standby_savings_dollars_per_year"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, "vcr_standby_cost_dollars_per_hour"); n != 4 {
		t.Errorf("vcr_standby_cost_dollars_per_hour has %d series, want one per model (4)", n)
	}
	if err := testutil.CollectAndCompare(NewCollector(func() *Config { return nil }), strings.NewReader("")); err != nil {
		t.Errorf("no config must export nothing: %v", err)
	}
}
