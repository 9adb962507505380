package rules

import (
	"fmt"
	"regexp"

	"github.com/prometheus/prometheus/promql/parser"
)

// ParseExpr parses a PromQL expression with the default (non-experimental) feature set, the
// one a stock Prometheus accepts.
func ParseExpr(expr string) error {
	if _, err := parser.NewParser(parser.Options{}).ParseExpr(expr); err != nil {
		return fmt.Errorf("parse PromQL %q: %w", expr, err)
	}
	return nil
}

// grafanaVars are the dashboard variables and the values queries get outside Grafana: "All" for
// the template variables, and ranges typical of a 15s scrape interval.
var grafanaVars = map[string]string{
	"cloud":           ".*",
	"host":            ".*",
	"__rate_interval": "1m",
	"__interval":      "15s",
	"__range":         "1h",
	"__range_s":       "3600",
	"__interval_ms":   "15000",
}

var varRE = regexp.MustCompile(`\$\{?(\w+)\}?`)

// labelValuesRE matches Grafana's label_values(<selector>, <label>) variable query.
var labelValuesRE = regexp.MustCompile(`^\s*label_values\((.*),\s*\w+\s*\)\s*$`)

// ExpandVars replaces the Grafana variables a dashboard query uses by plain values, so that the
// query can be parsed and run against Prometheus. rangeOverride, if not empty, replaces the
// value of $__range and $__rate_interval (a short-lived test Prometheus has no hour of data).
// An unknown variable is an error: it would reach Prometheus verbatim.
func ExpandVars(expr, rangeOverride string) (string, error) {
	var unknown []string
	out := varRE.ReplaceAllStringFunc(expr, func(m string) string {
		name := varRE.FindStringSubmatch(m)[1]
		v, ok := grafanaVars[name]
		if !ok {
			unknown = append(unknown, name)
			return m
		}
		if rangeOverride != "" && (name == "__range" || name == "__rate_interval") {
			return rangeOverride
		}
		return v
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("query %q uses unknown Grafana variables %v; add them to grafanaVars", expr, unknown)
	}
	return out, nil
}
