// Package lxd is a small client for the LXD REST API (LXD 5.0 and later), written
// for VCRcovery because the upstream client module cannot be fetched here.
//
// It speaks to a daemon over its unix socket or over HTTPS with a client
// certificate while pinning the daemon's own certificate, waits for LXD's
// background operations with timeouts and cancellation, and covers what the
// recovery strategies need: instance lifecycle and state, proxy devices,
// backup export and import, and copy or migration between two daemons.
//
// Every failure LXD reports comes back as an *Error carrying LXD's own
// message; use errors.Is with ErrNotFound, ErrAlreadyExists or
// ErrLiveMigration to branch on the common cases.
package lxd
