// Package exportertest holds the test doubles the exporter's packages share:
// a fake libvirt client, a fake LXD daemon, an Alertmanager stub, a sink that
// records fast-path decisions, and helpers to read /metrics. Only tests
// import it.
package exportertest
