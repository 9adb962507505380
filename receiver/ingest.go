package receiver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

// Alert names (the contract with the exporter and the rules, listed in
// docs/ARCHITECTURE.md) and what they make the receiver do.
// VCRDomainCPUPinned is only recorded: a busy guest is not a failed one.
var failoverAlerts = map[string]bool{
	"VCRDomainShutoff":     true,
	"VCRDomainCrashed":     true,
	"VCRDomainCPUZero":     true,
	"VCRHostHeartbeatLost": true,
	"VCRCloudDown":         true,
}

const scaleUpAlert = "VCRStandbyOverloaded"

// Message is Alertmanager's webhook payload (notify/webhook.Message).
type Message struct {
	*template.Data
	Version         string `json:"version"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`
}

// Ingest journals a webhook delivery and opens or joins incidents. It
// returns the incidents touched; an error (ErrUnavailable) means the sender
// should retry. With replicas sharing the journal, a delivery naming more
// than ingestPart services is journaled in parts of that many (see
// ingestParts); with one replica it is one write.
func (r *Receiver) Ingest(ctx context.Context, msg *Message) ([]string, error) {
	now := r.clock.Now()
	services := deliveryServices(r.store, r.Config(), msg)
	mass := len(services) > 1
	if !r.shared() || len(services) <= ingestPart {
		return r.ingest(ctx, msg, now, nil, mass)
	}
	return r.ingestParts(ctx, msg, now, services)
}

// ingestPart is how many services one write of a large delivery claims
// when replicas share the journal: few enough that the write is one etcd
// transaction.
const ingestPart = 10

// ingestParts journals a large delivery part by part, each part the alerts
// about a few services with their claims. Alertmanager sends a host's
// notification to every replica at once. Written whole, a delivery too
// large for one etcd transaction is written in several and taken back when
// a later one conflicts, so replicas racing on it undo each other's work
// again and again; part by part, a part that conflicts takes back only its
// own few claims, and its replica joins the incidents the winner opened.
// The 200 still means that every alert is journaled. A part that fails
// leaves the earlier parts journaled (their incidents run); the sender's
// retry joins those.
func (r *Receiver) ingestParts(ctx context.Context, msg *Message, now time.Time, services []string) ([]string, error) {
	var ids []string
	for i := 0; i < len(services); i += ingestPart {
		p := &part{services: map[string]bool{}, first: i == 0}
		for _, svc := range services[i:min(i+ingestPart, len(services))] {
			p.services[svc] = true
		}
		got, err := r.ingest(ctx, msg, now, p, true)
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	return ids, nil
}

// shared says whether other replicas share the journal.
func (r *Receiver) shared() bool { return r.own.Changes() != nil }

// ingest journals the part p of a delivery (nil: all of it) and starts
// the incidents it opened.
func (r *Receiver) ingest(ctx context.Context, msg *Message, now time.Time, p *part, mass bool) ([]string, error) {
	res := routeDelivery(r.store, r.Config(), msg, now, p, mass)
	for attempt := 1; ; attempt++ {
		if len(res.wait) > 0 {
			if err := r.store.waitClaims(ctx, res.wait); err != nil {
				if attempt >= 5 || ctx.Err() != nil {
					return nil, withKind(ErrUnavailable, err)
				}
				res = routeDelivery(r.store, r.Config(), msg, now, p, mass) // the opener failed: route again
				continue
			}
		}
		err := r.store.commit(ctx, res.batch, res.claims)
		r.store.settleOpened(res.opened, err == nil)
		if err == nil {
			break
		}
		var conflict *journal.ConflictError
		if !errors.As(err, &conflict) || attempt >= 5 {
			return nil, ingestError(err, conflict, attempt)
		}
		// Other replicas opened, closed or run these services' incidents:
		// learn every slot that changed and route the alerts again, after
		// a pause that lets a replica racing on the same delivery finish.
		r.store.learn(conflict)
		for _, c := range conflict.Also {
			r.store.learn(c)
		}
		if err := r.clock.Sleep(ctx, conflictBackoff(attempt, len(res.claims))); err != nil {
			return nil, withKind(ErrUnavailable, fmt.Errorf("gave up routing the alerts again: %w", err))
		}
		res = routeDelivery(r.store, r.Config(), msg, now, p, mass)
	}
	for _, a := range res.batch.Alerts {
		r.m.alertsReceived.WithLabelValues(a.Source, a.Status).Inc()
		r.log.Debug("alert journaled", "alertname", a.Labels["alertname"], "status", a.Status, "source", a.Source,
			"starts_at", a.StartsAt, "service", a.Service, "incident", a.IncidentID, "note", a.Note)
	}
	for _, d := range res.detect {
		r.m.phaseDuration.WithLabelValues(api.PhaseDetect).Observe(d)
	}
	// Only a journaled incident may act: start the pipelines now.
	for _, id := range res.incidents {
		r.store.start(id)
	}
	return res.incidents, nil
}

// part selects the services of a delivery one write routes.
type part struct {
	services map[string]bool
	// first: this part also journals the alerts that match no service.
	first bool
}

// deliveryServices lists the services a delivery's alerts are about, each
// once, in the order the alerts name them.
func deliveryServices(s *store, cfg *config.Config, msg *Message) []string {
	var out []string
	seen := map[string]bool{}
	s.locked(func() {
		for _, a := range msg.Alerts {
			for _, svc := range matchServices(s, cfg, a) {
				if !seen[svc.Name] {
					seen[svc.Name] = true
					out = append(out, svc.Name)
				}
			}
		}
	})
	return out
}

// conflictBackoff is how long a delivery whose claims conflicted waits
// before it is routed again: a random share of a window that grows with the
// attempt and with the delivery's claims. Alertmanager sends a host's
// notification to every replica at once; a delivery too large for one etcd
// transaction is written in several and taken back when a later one
// conflicts, so without the pause replicas racing on it can keep undoing
// each other's work. With it, one finishes and the others join its
// incidents (the slot watch and the conflicts teach them which).
func conflictBackoff(attempt, claims int) time.Duration {
	window := time.Duration(attempt) * (20*time.Millisecond + time.Duration(claims)*time.Millisecond)
	return mrand.N(window)
}

// ingestError gives a delivery that could not be journaled its kind, and
// says which failure it was. A write over a limit of the backend
// (journal.ErrTooLarge) has no kind: retrying cannot help, so the sender
// must not retry it forever (500). Slots that kept changing under other
// replicas' deliveries, and a journal that did not answer, are
// ErrUnavailable (503): a retry may succeed.
func ingestError(err error, conflict *journal.ConflictError, attempts int) error {
	switch {
	case errors.Is(err, journal.ErrTooLarge):
		return err
	case conflict != nil:
		n := 1 + len(conflict.Also)
		return withKind(ErrUnavailable, fmt.Errorf("the open-incident slots of %d service(s) kept changing under other replicas' deliveries through %d attempts; a retry routes the alerts again (%w)", n, attempts, err))
	default:
		return withKind(ErrUnavailable, err)
	}
}

// ingestResult is what one webhook delivery did.
type ingestResult struct {
	batch     journal.Batch
	incidents []string  // opened or joined, for the answer
	detect    []float64 // detect durations of the incidents opened
	// The slot checks the journal makes in the same write, and the
	// incidents opened here (dropped again if the write fails).
	claims []journal.Claim
	opened []string
	wait   map[string]chan struct{} // own incidents still being claimed by another delivery
}

// routeDelivery maps a delivery's alerts to services (those of part p;
// nil: all) and opens or joins incidents, all under the store's lock, and
// returns the journal batch to write. The incidents it opens belong to the
// delivery's mass event when mass is set (the delivery names several
// services). Nothing here blocks on I/O, so the lock is held for
// microseconds.
func routeDelivery(s *store, cfg *config.Config, msg *Message, now time.Time, p *part, mass bool) ingestResult {
	var res ingestResult
	s.locked(func() {
		touched := map[string]bool{}
		for _, a := range msg.Alerts {
			rec := journal.AlertRecord{
				ReceivedAt:  now,
				Receiver:    msg.Receiver,
				GroupKey:    msg.GroupKey,
				Status:      a.Status,
				Fingerprint: a.Fingerprint,
				Source:      alertSource(a),
				Labels:      a.Labels,
				StartsAt:    a.StartsAt,
				EndsAt:      a.EndsAt,
			}
			services := matchServices(s, cfg, a)
			if len(services) == 0 {
				if p == nil || p.first {
					rec.Note = "matches no configured service"
					res.batch.Alerts = append(res.batch.Alerts, rec)
				}
				continue
			}
			for _, svc := range services {
				if p != nil && !p.services[svc.Name] {
					continue // another part's
				}
				rec := rec
				rec.Service = svc.Name
				id, note, window := route(s, svc, a, rec.Source, now)
				rec.IncidentID, rec.Note = id, note
				if window != nil {
					d := api.Declined{At: now, Service: svc.Name, Alertname: a.Labels["alertname"], Source: rec.Source}
					res.batch.Events = append(res.batch.Events, s.declineLocked(window, d))
				}
				if note == noteOpened {
					if d := s.incidentLocked(id).inc.Phase(api.PhaseDetect); d != nil {
						res.detect = append(res.detect, d.DurationSeconds)
					}
				}
				if id != "" && !touched[id] {
					touched[id] = true
					res.incidents = append(res.incidents, id)
					res.claim(s, svc.Name, id, note)
				}
				res.batch.Alerts = append(res.batch.Alerts, rec)
			}
		}
		if mass && len(res.opened) > 0 {
			markMassEvent(s, res.opened, msg)
		}
		for _, id := range res.incidents {
			mi := s.incidentLocked(id)
			if mi == nil {
				continue // run by another replica: the alert record is the join
			}
			mi.inc.Revision++
			res.batch.Incidents = append(res.batch.Incidents, clone(mi.inc))
		}
	})
	return res
}

// claim records the check the journal makes on the service's slot in the
// same write: an incident opened here takes the free slot; an alert joining
// an incident another replica runs needs that incident to still hold it;
// one joining this replica's own incident waits until the delivery that
// opened it has claimed the slot.
func (res *ingestResult) claim(s *store, service, id, note string) {
	switch mi := s.incidentLocked(id); {
	case note == noteOpened:
		res.claims = append(res.claims, journal.Claim{Service: service, IncidentID: id, Open: true, ClosedRev: s.stateLocked(service).closedRev})
		res.opened = append(res.opened, id)
		mi.claimed = make(chan struct{})
	case mi == nil:
		res.claims = append(res.claims, journal.Claim{Service: service, IncidentID: id})
	default:
		res.claims = append(res.claims, journal.Claim{Service: service, IncidentID: id, Join: true})
		if mi.claimed != nil {
			if res.wait == nil {
				res.wait = map[string]chan struct{}{}
			}
			res.wait[id] = mi.claimed
		}
	}
}

// matchServices returns the services an alert is about. The `service` label
// wins; otherwise the domain UUID, then the domain name (also requiring the
// host to match when both sides name one); host- and cloud-wide alerts match
// every service on that host or cloud. VCRStandbyOverloaded is about the
// standby VM, so it matches only services that run there, even when its
// `service` label names one (a relabelled or hand-made alert must not move a
// service off its primary). Call it under the store's lock.
func matchServices(s *store, cfg *config.Config, a template.Alert) []*config.Service {
	l := a.Labels
	alertname := l["alertname"]
	onStandby := func(svc *config.Service) bool { return s.stateLocked(svc.Name).location == api.LocationStandby }
	if name := l["service"]; name != "" {
		if svc := cfg.Service(name); svc != nil && (alertname != scaleUpAlert || onStandby(svc)) {
			return []*config.Service{svc}
		}
		return nil
	}
	var out []*config.Service
	for i := range cfg.Services {
		svc := &cfg.Services[i]
		switch {
		case alertname == scaleUpAlert:
			if onStandby(svc) {
				out = append(out, svc)
			}
		case l["uuid"] != "" && svc.Primary.UUID != "":
			if sameUUID(l["uuid"], svc.Primary.UUID) {
				out = append(out, svc)
			}
		case l["domain"] != "" && svc.Primary.Domain != "":
			if l["domain"] == svc.Primary.Domain && (l["host"] == "" || svc.Primary.Host.Name == "" || l["host"] == svc.Primary.Host.Name) {
				out = append(out, svc)
			}
		case alertname == "VCRHostHeartbeatLost" && l["host"] != "":
			if l["host"] == svc.Primary.Host.Name {
				out = append(out, svc)
			}
		case alertname == "VCRCloudDown" && l["cloud"] != "":
			if l["cloud"] == svc.Primary.Host.Cloud {
				out = append(out, svc)
			}
		}
	}
	return out
}

func sameUUID(a, b string) bool {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "-", "")) }
	return norm(a) == norm(b)
}

// alertSource says which path delivered an alert: its `source` label or
// annotation when the sender set one (vcr-exporter's fast path annotates,
// so its alerts keep the rule path's label set and merge with it), else the
// host of its generator URL (Prometheus for the rule path), else "unknown".
func alertSource(a template.Alert) string {
	if s := a.Labels["source"]; s != "" {
		return s
	}
	if s := a.Annotations["source"]; s != "" {
		return s
	}
	if a.GeneratorURL != "" {
		if u, err := url.Parse(a.GeneratorURL); err == nil && u.Host != "" {
			return u.Host
		}
	}
	return "unknown"
}

// noteOpened is route's note when it opened an incident; ingest keys the
// detect metric and the slot claim on it.
const noteOpened = "opened incident"

// route joins the alert to the service's open incident or opens one,
// returning the incident ID (empty if none) and a note for the journal.
// An alert that would start a recovery while a maintenance window covers
// the service starts nothing; route returns that window. Call it under the
// store's lock.
func route(s *store, svc *config.Service, a template.Alert, source string, now time.Time) (string, string, *api.Maintenance) {
	alertname := a.Labels["alertname"]
	firing := a.Status != "resolved"
	if mi := s.heldLocked(svc.Name); mi != nil {
		joinAlert(&mi.inc, a, source, now)
		if !firing {
			return mi.inc.ID, "resolved: recorded; a started recovery is never cancelled", nil
		}
		return mi.inc.ID, "joined the open incident", nil
	}
	if id := s.remoteLocked(svc.Name); id != "" {
		if !firing {
			return id, "resolved: recorded; a started recovery is never cancelled", nil
		}
		return id, "joined the open incident (run by another replica)", nil
	}
	if !firing {
		return "", "resolved and no incident is open", nil
	}
	if w := s.windowForLocked(svc, now); w != nil && (failoverAlerts[alertname] || alertname == scaleUpAlert) {
		return "", declinedNote(w), w
	}
	st := s.stateLocked(svc.Name)
	kind := api.KindFailover
	strategy := svc.Strategy.Name
	switch {
	case alertname == scaleUpAlert:
		if svc.ScaleUp == nil {
			return "", "no scaleup strategy configured for this service", nil
		}
		kind, strategy = api.KindScaleUp, svc.ScaleUp.Name
	case !failoverAlerts[alertname]:
		return "", "alert " + alertname + " does not trigger a recovery", nil
	case st.location != api.LocationPrimary:
		// Repeats of the failure that moved the service carry its original
		// start time. A start after the recovery ended means the old primary
		// came back and failed again: worth an operator's look when it
		// happens within the flap interval, nothing to fail over otherwise.
		if mi := svc.Flap.MinInterval; mi > 0 && a.StartsAt.After(st.lastClosed) && now.Sub(st.lastClosed) < mi {
			break
		}
		return "", "service already runs on the " + st.location + "; fail back before it can fail over again", nil
	}
	inc := api.Incident{
		ID:       newIncidentID(now, svc.Name),
		Service:  svc.Name,
		Strategy: strategy,
		State:    api.StateOpen,
		Reason:   alertname,
		Kind:     kind,
		OpenedAt: now,
		Labels:   a.Labels,
	}
	inc.Owner = s.own.Replica()
	joinAlert(&inc, a, source, now)
	// Detection ends when the receiver hears of the failure; it started when
	// the alert says the failure started.
	detect := api.Phase{Name: api.PhaseDetect, StartedAt: a.StartsAt, Outcome: api.OutcomeOK, Attempts: 1}
	if detect.StartedAt.IsZero() || detect.StartedAt.After(now) {
		detect.StartedAt = now
	}
	end := now
	detect.EndedAt = &end
	detect.DurationSeconds = now.Sub(detect.StartedAt).Seconds()
	detect.Messages = []string{"alert " + alertname + " from " + source}
	inc.Phases = append(inc.Phases, detect)
	if mi := svc.Flap.MinInterval; mi > 0 && !st.lastClosed.IsZero() && now.Sub(st.lastClosed) < mi {
		inc.State = api.StateNeedsAttention
		inc.Error = "the previous recovery of " + svc.Name + " ended " + now.Sub(st.lastClosed).Round(time.Second).String() +
			" ago, within flap.min_interval " + mi.String() + ": not failing over automatically. Check the service, then acknowledge this incident"
		if st.location == api.LocationPrimary {
			inc.Error += "; to move it anyway, run `vcrctl failover " + svc.Name + "`, which fences the primary first"
		} else {
			inc.Error += "; " + svc.Name + " still runs on the " + st.location
		}
		closed := now
		inc.ClosedAt = &closed
	}
	s.holdLocked(inc)
	return inc.ID, noteOpened, nil
}

func joinAlert(inc *api.Incident, a template.Alert, source string, now time.Time) {
	s := &inc.Alerts
	if a.Status == "resolved" {
		s.Resolved++
	} else {
		s.Count++
	}
	if s.FirstAt.IsZero() {
		s.FirstAt, s.FirstFingerprint, s.FirstSource = now, a.Fingerprint, source
	}
	s.LastAt, s.LastFingerprint, s.LastSource = now, a.Fingerprint, source
	if s.BySource == nil {
		s.BySource = map[string]int{}
	}
	s.BySource[source]++
}

// markMassEvent gives the incidents a delivery naming several services
// opened their mass event's ID: the earliest alert's start, what failed when they share
// it (a host or a cloud), and a digest of the delivery. Alertmanager sends
// the same notification to every replica, so replicas that each open some
// of the incidents name the same event. Call it under the store's lock.
func markMassEvent(s *store, opened []string, msg *Message) {
	scope := ""
	for _, key := range []string{"cloud", "host"} {
		v := s.incidentLocked(opened[0]).inc.Labels[key]
		for _, id := range opened[1:] {
			if s.incidentLocked(id).inc.Labels[key] != v {
				v = ""
				break
			}
		}
		if v != "" {
			scope = v
		}
	}
	if scope == "" {
		scope = "mass"
	}
	sum := sha256.New()
	fmt.Fprintf(sum, "%s\n", msg.GroupKey)
	var start time.Time
	for _, a := range msg.Alerts {
		keys := slices.Sorted(maps.Keys(a.Labels))
		fmt.Fprintf(sum, "%s %s %s", a.Fingerprint, a.StartsAt.UTC().Format(time.RFC3339Nano), a.Status)
		for _, k := range keys {
			fmt.Fprintf(sum, " %s=%s", k, a.Labels[k])
		}
		sum.Write([]byte{'\n'})
		if start.IsZero() || a.StartsAt.Before(start) {
			start = a.StartsAt
		}
	}
	id := fmt.Sprintf("%s-%s-%s", start.UTC().Format("20060102-150405"), scope, hex.EncodeToString(sum.Sum(nil)[:3]))
	for _, o := range opened {
		s.incidentLocked(o).inc.Event = id
	}
}

func newIncidentID(now time.Time, service string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%s-%s", now.UTC().Format("20060102-150405"), service, hex.EncodeToString(b[:]))
}
