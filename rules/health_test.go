package rules

import (
	"slices"
	"strings"
	"testing"
)

const exporterHealthFile = "vcr-exporter-health.rules.yml"

// The exporter's self-watch alerts are documented like the others, and stay
// out of the way of recovery: they go to operators (audience="operator"),
// none is named like an alert the receiver fails over on or the inhibit
// rules treat as a domain's (VCRDomain*), none carries a domain or uuid the
// receiver could map to a service, and every expression parses.
func TestExporterHealthRules(t *testing.T) {
	f, err := ReadFile(exporterHealthFile)
	if err != nil {
		t.Fatal(err)
	}
	names := checkAlertsDocumented(t, f)
	if len(names) < 5 {
		t.Fatalf("%s has %d alerts: %v", exporterHealthFile, len(names), names)
	}
	for _, r := range f.Alerts() {
		if r.Labels["audience"] != "operator" {
			t.Errorf("%s: label audience %q, want operator (routed to people, not to the receiver)", r.Alert, r.Labels["audience"])
		}
		if strings.HasPrefix(r.Alert, "VCRDomain") || slices.Contains(documentedAlerts, r.Alert) {
			t.Errorf("%s: named like a failure alert; the receiver or the inhibit rules would act on it", r.Alert)
		}
		for _, l := range []string{"domain", "uuid", "service"} {
			if strings.Contains(r.Expr, `"`+l+`"`) || strings.Contains(r.Expr, l+",") || strings.Contains(r.Expr, l+")") {
				t.Errorf("%s: its expression keeps %q; the receiver maps that label to a service", r.Alert, l)
			}
		}
		if err := ParseExpr(r.Expr); err != nil {
			t.Errorf("%s: %v", r.Alert, err)
		}
	}
}

// Alertmanager sends the exporter's self-watch alerts to the operators.
func TestExporterHealthRouting(t *testing.T) {
	f, err := ReadFile(exporterHealthFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Alerts() {
		args := []string{"config", "routes", "test", "--config.file=" + amConfig, "alertname=" + r.Alert, "audience=operator", "host=hv1", "cloud=tokyo"}
		if got := strings.TrimSpace(run(t, ".", "amtool", args...)); got != "vcr-operators" {
			t.Errorf("%s is routed to %q, want vcr-operators", r.Alert, got)
		}
	}
}
