package rules

import (
	"slices"
	"testing"
)

// capacityRuleFile holds the alert on vcr-receiver's pre-flight view, apart
// from the failure rules of vcr.rules.yml.
const capacityRuleFile = "vcr-capacity.rules.yml"

func TestCapacityRuleFile(t *testing.T) {
	f, err := ReadFile(capacityRuleFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if err := ParseExpr(r.Expr); err != nil {
				t.Errorf("rule %s (group %s): %v", r.Name(), g.Name, err)
			}
		}
	}
	if names := checkAlertsDocumented(t, f); !slices.Equal(names, []string{"VCRStandbyCapacityShort"}) {
		t.Errorf("alerts %v", names)
	}
}
