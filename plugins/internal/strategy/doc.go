// Package strategy holds what the built-in LXD strategies (warm, cold,
// scaleup) and the backup store share: reading a request's settings
// (request.go), reaching an LXD remote (remote.go), reading and moving a
// service's endpoint on a proxy device (endpoint.go), giving each service an
// address of its own on a remote (address.go), making sure a remote has room
// for a service before starting it there (capacity.go), both recorded in a
// per-remote ledger that concurrent recoveries share (ledger.go), making an
// instance run (running.go, start.go), removing it (remove.go) and
// reporting progress (progress.go).
//
// It sits under plugins/internal so that no strategy imports another one:
// each depends only on this package, plugins/sdk and package lxd.
package strategy
