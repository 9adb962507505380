// Package ui is vcr-receiver's status page: where every service runs, the
// standby VMs' containers and load, open and recent incidents with a
// timeline of each pipeline phase, the standby cost model, and forms for a
// failover drill, a failback and acknowledging an incident. It is
// server-rendered with html/template and embedded assets, so it needs no
// CDN and reads fine without JavaScript; the small script only refreshes the
// page and asks for confirmation before an action.
//
// The receiver mounts New(...) at "/"; New(FromClient(...), ...) serves the
// same page from any process that can reach a receiver's API (vcrctl ui).
package ui
