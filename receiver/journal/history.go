package journal

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// DefaultRetention is how long closed incidents, alert records and events
// are kept when journal.retention is not set.
const DefaultRetention = 30 * 24 * time.Hour

// History is what both backends offer besides Journal so that the journal
// stays bounded and cheap to read: retention, a newest-first listing in
// pages, and their size as metrics. Journal itself is unchanged (other
// implementations need not grow); callers find History by type assertion.
type History interface {
	// Prune deletes what is older than before: incidents closed before it
	// (never one that holds its service, nor the ones that say where each
	// service runs now, see Expired), alert records received and events
	// that happened before it. It works in bounded batches and may be
	// stopped through ctx; what it deleted so far stays deleted.
	Prune(ctx context.Context, before time.Time) (PruneStats, error)
	// IncidentsPage returns up to limit incidents in Incidents' order
	// (newest first), starting after cursor ("" starts at the newest),
	// and the cursor of the next page ("" after the last). It reads only
	// the page, never the whole history. limit <= 0 means all.
	IncidentsPage(ctx context.Context, limit int, cursor string) (incs []api.Incident, next string, err error)
	// RecentAlerts returns the newest limit alert records, newest first,
	// reading about as many records as it returns.
	RecentAlerts(ctx context.Context, limit int) ([]AlertRecord, error)
	// Collector exports the journal's size and what Prune deleted.
	Collector() prometheus.Collector
}

// PruneStats counts what one Prune deleted.
type PruneStats struct {
	Incidents int
	Alerts    int
	Events    int
}

// Head is the part of an incident snapshot that retention and the
// newest-first index need.
type Head struct {
	ID             string     `json:"id"`
	Service        string     `json:"service"`
	State          api.State  `json:"state"`
	Kind           api.Kind   `json:"kind"`
	OpenedAt       time.Time  `json:"opened_at"`
	ClosedAt       *time.Time `json:"closed_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
	Revision       uint64     `json:"revision"`
	DNS            *struct {
		SwitchedAt *time.Time `json:"switched_at"`
	} `json:"dns"`
}

// DecodeHead decodes the head of a journaled snapshot.
func DecodeHead(v []byte) (Head, error) {
	var h Head
	err := json.Unmarshal(v, &h)
	return h, err
}

// Ended is when the incident stopped holding its service: the later of its
// close and its acknowledgement, else its opening.
func (h Head) Ended() time.Time {
	end := h.OpenedAt
	for _, t := range []*time.Time{h.ClosedAt, h.AcknowledgedAt} {
		if t != nil && t.After(end) {
			end = *t
		}
	}
	return end
}

// newer orders heads as SortNewestFirst orders incidents.
func (h Head) newer(o Head) bool {
	if !h.OpenedAt.Equal(o.OpenedAt) {
		return h.OpenedAt.After(o.OpenedAt)
	}
	return h.ID > o.ID
}

// Expired returns the incidents a prune with this cutoff deletes: those that
// no longer hold their service and ended before it. Whatever their age, it
// keeps per service the newest incident that ended, the newest resolved one
// and the newest resolved one that switched DNS: a receiver that starts
// replays the resolved incidents to learn where each service runs now, its
// address there and when it last closed (the flap interval), and a replica
// that opens an incident compares against the last close.
func Expired(heads []Head, before time.Time) []Head {
	type role struct {
		service string
		kind    int
	}
	newest := map[role]Head{}
	note := func(r role, h Head) {
		if cur, ok := newest[r]; !ok || h.newer(cur) {
			newest[r] = h
		}
	}
	for _, h := range heads {
		if h.State.Holds() {
			continue
		}
		note(role{h.Service, 0}, h)
		if h.State == api.StateResolved {
			note(role{h.Service, 1}, h)
			if h.DNS != nil && h.DNS.SwitchedAt != nil {
				note(role{h.Service, 2}, h)
			}
		}
	}
	keep := map[string]bool{}
	for _, h := range newest {
		keep[h.ID] = true
	}
	var out []Head
	for _, h := range heads {
		if !h.State.Holds() && !keep[h.ID] && h.Ended().Before(before) {
			out = append(out, h)
		}
	}
	return out
}

// TimeKey encodes t in 12 bytes whose byte order is time order, for every
// time (seconds with the sign bit flipped, then nanoseconds): the prefix of
// the keys of the newest-first incident index.
func TimeKey(t time.Time) []byte {
	k := make([]byte, 12)
	binary.BigEndian.PutUint64(k, uint64(t.Unix())^(1<<63))
	binary.BigEndian.PutUint32(k[8:], uint32(t.Nanosecond()))
	return k
}
