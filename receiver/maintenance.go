package receiver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

// Maintenance windows: planned work on a service, a host or a cloud, during
// which the receiver starts no automatic recovery for the services they
// cover. A failure alert about such a service is journaled with a note, as
// an event saying which window declined it, and listed on the window.
// Windows are journaled as events, restored from them at start, and end by
// themselves.

// MaxMaintenance bounds one window, so a forgotten one cannot keep
// recovery off for long.
const MaxMaintenance = 7 * 24 * time.Hour

// maintenanceKept is how long a window that ended is still listed.
const maintenanceKept = 24 * time.Hour

// maintenanceRefresh is how often a replica sharing an etcd journal reads
// the windows others opened (the Alertmanager silence covers the gap).
const maintenanceRefresh = 10 * time.Second

// The journal event kinds that record windows.
const (
	eventMaintenanceStart    = "maintenance-start"
	eventMaintenanceStop     = "maintenance-stop"
	eventMaintenanceDeclined = "maintenance-declined"
)

// declinedEvent is the message of a maintenance-declined event.
type declinedEvent struct {
	Window string `json:"window"`
	api.Declined
}

// StartMaintenance opens a window. Its errors are ErrInvalid (the request
// is incomplete or the duration out of range), ErrNotFound (it covers no
// configured service) and ErrUnavailable (nothing journaled).
func (r *Receiver) StartMaintenance(ctx context.Context, req api.MaintenanceRequest) (api.Maintenance, error) {
	cfg := r.Config()
	now := r.clock.Now()
	d, err := time.ParseDuration(req.Duration)
	switch {
	case !req.OneTarget():
		return api.Maintenance{}, withKind(ErrInvalid, errors.New("name exactly one of service, host and cloud"))
	case err != nil:
		return api.Maintenance{}, withKind(ErrInvalid, fmt.Errorf("duration %q: %v; write it like 2h or 90m", req.Duration, err))
	case d <= 0 || d > MaxMaintenance:
		return api.Maintenance{}, withKind(ErrInvalid, fmt.Errorf("duration %s: a window lasts more than 0s and at most %s; open another when it ends", d, MaxMaintenance))
	case strings.TrimSpace(req.Comment) == "":
		return api.Maintenance{}, withKind(ErrInvalid, errors.New("comment is empty: say what the planned work is, for whoever sees the declined alerts"))
	}
	w := api.Maintenance{ID: newWindowID(now), Service: req.Service, Host: req.Host, Cloud: req.Cloud,
		StartsAt: now, EndsAt: now.Add(d), Comment: req.Comment, CreatedBy: req.CreatedBy}
	for _, svc := range coveredServices(cfg, &w) {
		w.Services = append(w.Services, svc.Name)
	}
	if len(w.Services) == 0 {
		return api.Maintenance{}, withKind(ErrNotFound, fmt.Errorf("%s covers no configured service: check the name against services[].name, primary.host.name and primary.host.cloud", w.Target()))
	}
	w.Matchers = silenceMatchers(cfg, &w)
	msg, _ := json.Marshal(w) // plain fields: cannot fail
	// In memory first: an alert arriving while the window is being
	// journaled is declined rather than acted on.
	r.store.locked(func() { r.store.putWindowLocked(w) })
	ev := journal.Event{Time: now, Kind: eventMaintenanceStart, Service: w.Service, Message: string(msg)}
	if err := r.store.commit(ctx, journal.Batch{Events: []journal.Event{ev}}, nil); err != nil {
		r.store.locked(func() { delete(r.store.windows, w.ID) })
		return api.Maintenance{}, withKind(ErrUnavailable, fmt.Errorf("journal the maintenance window: %w", err))
	}
	r.log.Info("maintenance window opened", "window", w.ID, "target", w.Target(), "services", w.Services, "until", w.EndsAt, "comment", w.Comment)
	w.Active = true
	return w, nil
}

// StopMaintenance ends a window now. Its errors are ErrNotFound,
// ErrConflict (it ended already) and ErrUnavailable.
func (r *Receiver) StopMaintenance(ctx context.Context, id string) (api.Maintenance, error) {
	now := r.clock.Now()
	var w api.Maintenance
	var refused error
	r.store.locked(func() {
		cur := r.store.windows[id]
		switch {
		case cur == nil:
			refused = withKind(ErrNotFound, fmt.Errorf("no maintenance window %s: list them with GET /api/v1/maintenance", id))
		case !cur.HoldsAt(now):
			refused = withKind(ErrConflict, fmt.Errorf("maintenance window %s ended already", id))
		default:
			w = *cur
		}
	})
	if refused != nil {
		return api.Maintenance{}, refused
	}
	msg, _ := json.Marshal(map[string]string{"id": id})
	ev := journal.Event{Time: now, Kind: eventMaintenanceStop, Service: w.Service, Message: string(msg)}
	if err := r.store.commit(ctx, journal.Batch{Events: []journal.Event{ev}}, nil); err != nil {
		return api.Maintenance{}, withKind(ErrUnavailable, fmt.Errorf("journal the end of maintenance window %s: %w", id, err))
	}
	r.store.locked(func() {
		if cur := r.store.windows[id]; cur != nil {
			cur.EndedAt = &now
			w = *cur
		}
	})
	r.log.Info("maintenance window stopped", "window", id, "target", w.Target())
	return w, nil
}

// Maintenance lists the windows that hold now or ended within the last
// day, newest first.
func (r *Receiver) Maintenance() []api.Maintenance {
	now := r.clock.Now()
	var out []api.Maintenance
	r.store.locked(func() {
		r.store.pruneWindowsLocked(now)
		for _, w := range r.store.windows {
			c := *w
			c.Declined = append([]api.Declined(nil), w.Declined...)
			c.Active = c.HoldsAt(now)
			out = append(out, c)
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].StartsAt.After(out[j].StartsAt) })
	return out
}

// restoreMaintenance reads the windows back from the journal's events: at
// start, and with a shared journal every maintenanceRefresh, for the
// windows other replicas opened or stopped and the alerts they declined.
func (r *Receiver) restoreMaintenance(ctx context.Context) error {
	events, err := r.opts.Journal.Events(ctx, 0)
	if err != nil {
		return fmt.Errorf("read maintenance windows from the journal: %w", err)
	}
	// Starts first: events of several replicas are ordered by their
	// clocks, which may put a stop or a decline before its start.
	found := map[string]*api.Maintenance{}
	for _, ev := range events {
		var w api.Maintenance
		if ev.Kind == eventMaintenanceStart && json.Unmarshal([]byte(ev.Message), &w) == nil && w.ID != "" {
			found[w.ID] = &w
		}
	}
	for _, ev := range events {
		switch ev.Kind {
		case eventMaintenanceStop:
			var stop struct{ ID string }
			if json.Unmarshal([]byte(ev.Message), &stop) == nil && found[stop.ID] != nil {
				at := ev.Time
				found[stop.ID].EndedAt = &at
			}
		case eventMaintenanceDeclined:
			var d declinedEvent
			if json.Unmarshal([]byte(ev.Message), &d) == nil && found[d.Window] != nil {
				addDeclined(found[d.Window], d.Declined)
			}
		}
	}
	now := r.clock.Now()
	r.store.locked(func() {
		for id, w := range found {
			cur := r.store.windows[id]
			switch {
			case cur == nil:
				r.store.putWindowLocked(*w)
			default:
				if w.EndedAt != nil && cur.EndedAt == nil {
					cur.EndedAt = w.EndedAt
				}
				if w.DeclinedTotal > cur.DeclinedTotal {
					cur.Declined, cur.DeclinedTotal = w.Declined, w.DeclinedTotal
				}
			}
		}
		r.store.pruneWindowsLocked(now)
	})
	return nil
}

// watchMaintenance keeps a replica that shares its journal up to date with
// the windows of the others; a lone replica whose journal could not list
// the windows at start reads them until it can.
func (r *Receiver) watchMaintenance() {
	tick := time.NewTicker(maintenanceRefresh)
	defer tick.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(r.ctx, maintenanceRefresh)
		err := r.restoreMaintenance(ctx)
		cancel()
		switch {
		case err != nil:
			r.log.Warn("could not refresh maintenance windows; using the ones known", "err", err)
		case r.own.Changes() == nil:
			r.log.Info("maintenance windows restored")
			return // one replica: nobody else opens windows
		}
	}
}

// putWindowLocked keeps a window.
func (s *store) putWindowLocked(w api.Maintenance) {
	if s.windows == nil {
		s.windows = map[string]*api.Maintenance{}
	}
	s.windows[w.ID] = &w
}

// pruneWindowsLocked forgets windows that ended over maintenanceKept ago.
func (s *store) pruneWindowsLocked(now time.Time) {
	for id, w := range s.windows {
		end := w.EndsAt
		if w.EndedAt != nil {
			end = *w.EndedAt
		}
		if now.Sub(end) > maintenanceKept {
			delete(s.windows, id)
		}
	}
}

// windowForLocked returns the window that covers svc at now, the one that
// lasts longest when several do; nil when none does.
func (s *store) windowForLocked(svc *config.Service, now time.Time) *api.Maintenance {
	var best *api.Maintenance
	for _, w := range s.windows {
		if w.HoldsAt(now) && covers(w, svc) && (best == nil || w.EndsAt.After(best.EndsAt) || (w.EndsAt.Equal(best.EndsAt) && w.ID < best.ID)) {
			best = w
		}
	}
	return best
}

// declineLocked records on w that it kept an alert from starting a
// recovery, and returns the event that journals it.
func (s *store) declineLocked(w *api.Maintenance, d api.Declined) journal.Event {
	addDeclined(w, d)
	msg, _ := json.Marshal(declinedEvent{Window: w.ID, Declined: d})
	return journal.Event{Time: d.At, Kind: eventMaintenanceDeclined, Service: d.Service, Message: string(msg)}
}

func addDeclined(w *api.Maintenance, d api.Declined) {
	w.DeclinedTotal++
	w.Declined = append(w.Declined, d)
	if n := len(w.Declined); n > api.MaxDeclinedShown {
		w.Declined = append([]api.Declined(nil), w.Declined[n-api.MaxDeclinedShown:]...)
	}
}

// declinedNote is the alert record's note for an alert a window declined.
func declinedNote(w *api.Maintenance) string {
	return "declined: maintenance window " + w.ID + " (" + w.Target() + ": " + w.Comment + ") until " +
		w.EndsAt.UTC().Format(time.RFC3339) + "; no automatic recovery while it lasts"
}

// covers says whether a window covers a service, by the service's current
// configuration: its name, its primary's host, or its primary's cloud.
func covers(w *api.Maintenance, svc *config.Service) bool {
	switch {
	case w.Service != "":
		return svc.Name == w.Service
	case w.Host != "":
		return svc.Primary.Host.Name == w.Host
	default:
		return w.Cloud != "" && svc.Primary.Host.Cloud == w.Cloud
	}
}

func coveredServices(cfg *config.Config, w *api.Maintenance) []*config.Service {
	var out []*config.Service
	for i := range cfg.Services {
		if covers(w, &cfg.Services[i]) {
			out = append(out, &cfg.Services[i])
		}
	}
	return out
}

// silenceMatchers are the matcher sets of the Alertmanager silences that
// keep a window's alerts quiet. A host or cloud window matches its label,
// which every alert of that host or cloud carries (docs/runbooks.md,
// "Label conventions"). A service window matches the alerts the receiver
// maps to the service (ingest.go, matchServices): its `service` label, its
// domain's UUID in any case with or without dashes, and its domain name on
// its host or on no host.
func silenceMatchers(cfg *config.Config, w *api.Maintenance) [][]api.Matcher {
	eq := func(name, value string) api.Matcher { return api.Matcher{Name: name, Value: value, IsEqual: true} }
	re := func(name, value string) api.Matcher {
		return api.Matcher{Name: name, Value: value, IsRegex: true, IsEqual: true}
	}
	switch {
	case w.Host != "":
		return [][]api.Matcher{{eq("host", w.Host)}}
	case w.Cloud != "":
		return [][]api.Matcher{{eq("cloud", w.Cloud)}}
	}
	svc := cfg.Service(w.Service)
	sets := [][]api.Matcher{{eq("service", svc.Name)}}
	if u := strings.ToLower(strings.ReplaceAll(svc.Primary.UUID, "-", "")); len(u) == 32 {
		sets = append(sets, []api.Matcher{re("uuid", "(?i)"+u[:8]+"-?"+u[8:12]+"-?"+u[12:16]+"-?"+u[16:20]+"-?"+u[20:])})
	}
	if d := svc.Primary.Domain; d != "" {
		set := []api.Matcher{eq("domain", d)}
		if h := svc.Primary.Host.Name; h != "" {
			set = append(set, re("host", regexp.QuoteMeta(h)+"|"))
		}
		sets = append(sets, set)
	}
	return sets
}

func newWindowID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "mw-" + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}
