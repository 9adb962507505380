// Package rules holds VCRcovery's Prometheus rules (vcr.rules.yml, tested by promtool with the
// files in tests/) and the helpers that read them and the Grafana dashboards in deploy/grafana,
// so that unit tests and the end-to-end test check the same expressions.
package rules
