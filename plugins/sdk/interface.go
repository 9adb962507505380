// Package sdk is the public SDK for VCRcovery recovery strategies: the Strategy
// interface a plugin implements, the versioned go-plugin handshake, and the gRPC
// shims that carry the interface between vcr-receiver and a plugin process.
package sdk

import (
	"context"
	"encoding/json"
	"time"
)

// Strategy makes a failed service available somewhere else. The receiver calls
// Prepare once per recovery attempt and switches DNS to the returned endpoint
// only after it has verified the endpoint answers.
type Strategy interface {
	// Info describes the plugin; the receiver logs it and shows it in the UI.
	Info(ctx context.Context) (Info, error)
	// ValidateConfig checks a service's strategy settings at config load time,
	// so a typo fails `vcr-receiver --check-config` instead of a recovery.
	ValidateConfig(ctx context.Context, settings json.RawMessage) error
	// Prepare brings the service up and returns where it listens. It reports
	// what it is doing through progress, which may be nil.
	Prepare(ctx context.Context, req PrepareRequest, progress ProgressFunc) (Endpoint, error)
	// Finalize runs after DNS has switched to the endpoint Prepare returned. A
	// strategy that moved a service (scale-up) removes the old copy here, never
	// earlier, so a failed switch leaves the source serving.
	Finalize(ctx context.Context, req FinalizeRequest) error
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

// FinalizeRequest tells a strategy that DNS now points at Endpoint.
type FinalizeRequest struct {
	IncidentID string
	Service    string
	Settings   json.RawMessage
	Shared     json.RawMessage
	Endpoint   Endpoint
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
	// of its containers listen there.
	Address string `json:"address,omitempty"`
}
