package cost

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

// TestDashboardQueries keeps deploy/grafana/dashboards/vcr-cost.json in step
// with the Collector: every query parses, and every vcr_standby_* metric it
// names is one the Collector exports.
func TestDashboardQueries(t *testing.T) {
	b, err := os.ReadFile("../deploy/grafana/dashboards/vcr-cost.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	exported := map[string]bool{}
	for _, name := range []string{"vcr_standby_cost_dollars_per_hour", "vcr_standby_savings_dollars_per_year", "vcr_standby_vms"} {
		exported[name] = true
	}
	descs := describe(NewCollector(func() *Config { return nil }))
	for name := range exported {
		if !strings.Contains(descs, `"`+name+`"`) {
			t.Errorf("collector does not describe %s", name)
		}
	}
	used := map[string]bool{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			expr, err := parser.NewParser(parser.Options{}).ParseExpr(tg.Expr)
			if err != nil {
				t.Errorf("panel %q: %q does not parse: %v", p.Title, tg.Expr, err)
				continue
			}
			for _, sel := range parser.ExtractSelectors(expr) {
				for _, m := range sel {
					if m.Name == "__name__" && strings.HasPrefix(m.Value, "vcr_standby_") {
						if !exported[m.Value] {
							t.Errorf("panel %q uses %s, which the collector does not export", p.Title, m.Value)
						}
						used[m.Value] = true
					}
				}
			}
		}
	}
	for name := range exported {
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}
