// Package ownership marks the LXD instances VCRcovery's strategies create or
// adopt, so that a strategy can tell its own instances from everything else
// on a daemon and never delete or replace what it does not own.
//
// A mark is two keys in the instance's own config (marks.go):
// user.vcrcovery.service names the service the instance belongs to, and
// user.vcrcovery.incident the incident that created or adopted it. The
// strategies check them before they remove or reuse an instance
// (conflict.go, remove.go); `vcrctl standby adopt` marks a standby
// container that an operator made by hand (adopt.go).
package ownership
