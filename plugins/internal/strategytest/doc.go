// Package strategytest holds the test harness the built-in LXD strategies
// (warm, cold, scaleup) share: remotes and shared settings from a
// testenv.LXD, polling a service's page, the plugin binary check and the
// benchmark statistics. It is for tests and benchmarks only.
package strategytest
