// Package exporter is vcr-exporter: it exposes the domains of one libvirtd
// as Prometheus metrics with one ConnectGetAllDomainStats round trip per
// scrape, follows libvirt lifecycle events (and libvirt-snmp traps from other
// hosts), and pushes VCRDomainShutoff/VCRDomainCrashed straight to
// Alertmanager the moment a domain fails: the fast path of
// docs/ARCHITECTURE.md.
//
// This package only wires the parts, each a package of its own: lifecycle
// (the libvirt connection and its events), inventory (the domain XML, jobs
// and storage pools refreshed in the background), failure (the failure
// table), fastpath (the Alertmanager pusher), snmptrap (the trap receiver)
// and collector (every collector, registered in one place). It serves
// /metrics. exporter/README.md describes the layout.
package exporter
