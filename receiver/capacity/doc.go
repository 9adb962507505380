// Package capacity is the receiver's pre-flight view: for every host and
// every cloud in the configuration it answers "if it failed now, would the
// standbys hold its services, and how long would their recovery take?"
//
// It adds up the resources the services declare (services[].resources) per
// standby they recover onto, compares them with what each standby's machine
// has and has not yet promised (LXD's /1.0/resources and the limits of what
// runs there), and estimates the recovery time from measured or documented
// per-strategy figures. The answer is served as JSON (GET /api/v1/capacity,
// which `vcrctl capacity` and the status page read) and as metrics, so an
// alert can fire before any failure (rules/vcr-capacity.rules.yml).
//
// compute.go is the arithmetic, without I/O; estimate.go the per-strategy
// figures; view.go reads the standbys and caches the answer; metrics.go
// exports it.
package capacity
