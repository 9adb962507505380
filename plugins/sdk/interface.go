// Package sdk is the public SDK for VCRcovery recovery strategies: the Strategy
// interface a plugin implements, the versioned go-plugin handshake, and the gRPC
// shims that carry the interface between vcr-receiver and a plugin process.
package sdk

import (
	"context"
	"encoding/json"
	"time"
)

// Strategy makes a failed service available somewhere else. The receiver
// switches DNS to the endpoint Prepare returns only after it has verified the
// endpoint answers.
//
// Every call may be repeated: the receiver retries, restarts and hands
// incidents over to another replica, so Prepare, Finalize and Abort can run
// more than once for the same incident, and a plugin process may have died
// halfway through the previous call. Each call therefore looks at what is
// there, finishes what an earlier attempt of the same incident began, and
// never repeats work that is done (see "Idempotency" in the README). The
// incident ID tells attempts of the same incident from a new one.
type Strategy interface {
	// Info describes the plugin; the receiver logs it and shows it in the UI.
	Info(ctx context.Context) (Info, error)
	// ValidateConfig checks a service's strategy settings at config load time,
	// against the receiver-wide shared settings, so a typo (a misspelt key, a
	// remote that lxd_remotes does not define) fails `vcr-receiver
	// --check-config` instead of a recovery.
	ValidateConfig(ctx context.Context, req ValidateRequest) error
	// Prepare brings the service up and returns where it listens. It reports
	// what it is doing through progress, which may be nil. Called again for
	// the same incident, it returns the same endpoint without doing the work
	// twice; called after an attempt that died halfway, it completes it.
	Prepare(ctx context.Context, req PrepareRequest, progress ProgressFunc) (Endpoint, error)
	// Finalize runs after DNS has switched to the endpoint Prepare returned. A
	// strategy that moved a service (scale-up) removes the old copy here, never
	// earlier, so that Abort can still put the service back before the switch.
	// A second Finalize is harmless.
	Finalize(ctx context.Context, req FinalizeRequest) error
	// Abort undoes Prepare when the incident will not switch DNS: a phase
	// after Prepare failed for good, or an operator cancelled. Afterwards the
	// service is served as it was before Prepare (scale-up un-freezes the
	// source and removes the partial target; cold removes what it imported in
	// this incident; warm leaves its container running). Abort without a
	// Prepare, or a second Abort, changes nothing. Protocol version 2; a host
	// never sends it to a version-1 plugin.
	Abort(ctx context.Context, req AbortRequest) error
}

// Info identifies a strategy plugin.
type Info struct {
	Name        string // short name, e.g. "warm"
	Version     string
	Description string
}

// PrepareRequest is everything a strategy knows about one recovery.
type PrepareRequest struct {
	IncidentID string
	Service    string
	// Reason is the alert name that opened the incident (VCRDomainShutoff,
	// VCRStandbyOverloaded, ...) or "drill" / "failback" for manual runs.
	Reason string
	// Settings is the service's `strategy.settings` block from the receiver
	// config, as JSON.
	Settings json.RawMessage
	// Shared is receiver-wide context a strategy may need, as JSON: the LXD
	// remotes and the backup store (see SharedSettings).
	Shared json.RawMessage
	// Labels are the labels of the alert that opened the incident.
	Labels map[string]string
}

// ValidateRequest is what a strategy may check at config load time.
type ValidateRequest struct {
	// Service is the service the settings belong to.
	Service string
	// Settings is the service's `strategy.settings` block, as JSON.
	Settings json.RawMessage
	// Shared is the receiver-wide context, as in PrepareRequest. A host that
	// speaks protocol version 1 sends neither Service nor Shared.
	Shared json.RawMessage
}

// FinalizeRequest tells a strategy that DNS now points at Endpoint.
type FinalizeRequest struct {
	IncidentID string
	Service    string
	Settings   json.RawMessage
	Shared     json.RawMessage
	Endpoint   Endpoint
}

// AbortRequest asks a strategy to undo what Prepare did for an incident.
type AbortRequest struct {
	IncidentID string
	Service    string
	// Reason says why the recovery is undone ("verify failed: ...",
	// "cancelled by an operator"), for the strategy's messages.
	Reason   string
	Settings json.RawMessage
	Shared   json.RawMessage
	// Endpoint is what Prepare returned; zero when Prepare never returned
	// (the host crashed, or Prepare failed).
	Endpoint Endpoint
}

// Endpoint is where the recovered service listens.
type Endpoint struct {
	Address string // an IP address; DNS gets an A or AAAA record for it
	Port    int
	// Details are facts worth keeping in the incident, such as which
	// containers moved and why, or that a migration fell back to stateless.
	Details map[string]string
}

// Progress is one step a strategy reports while it works.
type Progress struct {
	Time    time.Time
	Message string
}

// ProgressFunc receives progress messages; it must not block for long.
type ProgressFunc func(Progress)

// SharedSettings is the schema of PrepareRequest.Shared.
type SharedSettings struct {
	LXDRemotes map[string]LXDRemote `json:"lxd_remotes,omitempty"`
	BackupDir  string               `json:"backup_dir,omitempty"`
	// Resources are what each service declares it needs, by service name;
	// a service that declares nothing is absent.
	Resources map[string]Resources `json:"resources,omitempty"`
}

// Resources is what a service declares it needs wherever it is recovered
// (the receiver config's services[].resources). A strategy checks that the
// target has that much free before it starts the service there, and limits
// the service's container to it. Zero means not declared.
type Resources struct {
	VCPUs       float64 `json:"vcpus,omitempty"`
	MemoryBytes int64   `json:"memory_bytes,omitempty"`
}

// LXDRemote says how to reach one LXD daemon: a unix socket, or HTTPS with a
// client certificate and the pinned server certificate.
type LXDRemote struct {
	Socket     string `json:"socket,omitempty"`
	URL        string `json:"url,omitempty"`
	ClientCert string `json:"client_cert,omitempty"` // PEM file path
	ClientKey  string `json:"client_key,omitempty"`  // PEM file path
	ServerCert string `json:"server_cert,omitempty"` // PEM file path, pinned
	// Address is the loopback address this daemon's "VM" owns; proxy devices
	// of its containers listen there unless they have addresses of their own.
	Address string `json:"address,omitempty"`
	// AddressPool is a prefix (127.0.1.0/24) of addresses the VM owns, from
	// which each service recovered there gets one of its own, so that
	// services on the same port can share the VM. Empty: no pool.
	AddressPool string `json:"address_pool,omitempty"`
}
