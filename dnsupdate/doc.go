// Package dnsupdate switches a service's address records on an authoritative
// DNS server with one TSIG-signed RFC 2136 UPDATE message (delete the A and
// AAAA RRsets, insert the new ones, atomically), then confirms the change by
// asking the same server. It is the receiver's "switch" phase and holds no
// metrics of its own: ReplaceTimed returns durations for the caller to export.
package dnsupdate
