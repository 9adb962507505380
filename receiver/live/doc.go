// Package live implements the receiver's Fencer, Prober and DNS interfaces
// with the real components: libvirt through internal/virt, package probe, and
// package dnsupdate. The strategy side is plugins/manager, which satisfies
// receiver.Strategies as it is.
package live
