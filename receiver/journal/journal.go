// Package journal is the receiver's durable memory: every accepted alert,
// every incident with its phase transitions, and notable events, written
// before the receiver acts on them so that a restart resumes where it
// stopped. The interface is small and storage-agnostic; bbolt is the embedded
// default and a distributed backend (etcd) can implement the same contract.
package journal

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// ErrNotFound is returned when an incident does not exist.
var ErrNotFound = errors.New("not found")

// Journal stores alerts, events and incident snapshots durably.
//
// Incidents are stored as whole snapshots carrying a Revision. Commit keeps a
// snapshot only if its Revision is higher than the stored one: a
// compare-and-set on the revision, so concurrent writers (webhook requests
// and pipeline runners) can never roll an incident back, and a backend like
// etcd can implement it with one transaction per batch.
type Journal interface {
	// Commit writes everything in b atomically and durably (fsync) before it
	// returns nil. Concurrent calls may be grouped into one disk write.
	Commit(ctx context.Context, b Batch) error
	// Incident returns the newest snapshot of one incident, or ErrNotFound.
	Incident(ctx context.Context, id string) (api.Incident, error)
	// Incidents returns every incident, newest first.
	Incidents(ctx context.Context) ([]api.Incident, error)
	// Alerts returns up to limit journaled alerts, oldest first (limit <= 0
	// means all).
	Alerts(ctx context.Context, limit int) ([]AlertRecord, error)
	// Events returns up to limit events, oldest first (limit <= 0 means all).
	Events(ctx context.Context, limit int) ([]Event, error)
	Close() error
}

// Batch is one atomic write.
type Batch struct {
	Alerts    []AlertRecord
	Events    []Event
	Incidents []api.Incident
}

// AlertRecord is one alert as the receiver got it, and what it did with it.
type AlertRecord struct {
	ReceivedAt  time.Time         `json:"received_at"`
	Receiver    string            `json:"receiver,omitempty"`
	GroupKey    string            `json:"group_key,omitempty"`
	Status      string            `json:"status"`
	Fingerprint string            `json:"fingerprint,omitempty"`
	Source      string            `json:"source,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	StartsAt    time.Time         `json:"starts_at"`
	EndsAt      time.Time         `json:"ends_at"`
	// Service and IncidentID are empty when the alert matched no service or
	// opened no incident; Note says why.
	Service    string `json:"service,omitempty"`
	IncidentID string `json:"incident_id,omitempty"`
	Note       string `json:"note,omitempty"`
}

// Event is something worth remembering that is not an alert: a manual
// action, a config reload, a DNS switch being sent.
type Event struct {
	Time       time.Time `json:"time"`
	Kind       string    `json:"kind"`
	IncidentID string    `json:"incident_id,omitempty"`
	Service    string    `json:"service,omitempty"`
	Message    string    `json:"message,omitempty"`
}

// SortNewestFirst orders incidents by opening time, newest first, with the
// ID breaking ties so listings are stable.
func SortNewestFirst(incs []api.Incident) {
	sort.Slice(incs, func(i, j int) bool {
		if !incs[i].OpenedAt.Equal(incs[j].OpenedAt) {
			return incs[i].OpenedAt.After(incs[j].OpenedAt)
		}
		return incs[i].ID > incs[j].ID
	})
}
