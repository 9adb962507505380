package fastpath

import (
	"fmt"
	"regexp"
)

// StandbyRole is the role label of the standby VM's alerts.
const StandbyRole = "standby"

// DefaultStandbyDomainRegex is the regex deploy/prometheus/prometheus.yml's
// metric relabelling uses to give the standby VM's series role="standby".
// The fast path must use the same one, or its alerts and the rule path's
// differ by that label and Alertmanager never merges them.
const DefaultStandbyDomainRegex = "vcr-standby(-.+)?"

// StandbyDomains compiles a --alertmanager.standby-domain-regex anchored at
// both ends, as Prometheus anchors relabelling regexes; empty gives nil (no
// role label).
func StandbyDomains(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	re, err := regexp.Compile("^(?:" + expr + ")$")
	if err != nil {
		return nil, fmt.Errorf("--alertmanager.standby-domain-regex %q: %w", expr, err)
	}
	return re, nil
}
