// Package live implements the pipeline's Fencer, Prober and DNS interfaces
// (receiver/pipeline) with the real components: libvirt through
// internal/virt, package probe, and package dnsupdate. The strategy side is
// plugins/manager, which satisfies pipeline.Strategies as it is; Strategies
// wraps it to count the plugin processes it replaces.
package live
