// Package exporter is vcr-exporter: it exposes the domains of one libvirtd
// as Prometheus metrics with one ConnectGetAllDomainStats round trip per
// scrape, follows libvirt lifecycle events (and libvirt-snmp traps from other
// hosts), and pushes VCRDomainShutoff/VCRDomainCrashed straight to
// Alertmanager the moment a domain fails: the fast path of DESIGN.md.
package exporter
