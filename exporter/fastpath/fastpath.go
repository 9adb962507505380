// Package fastpath pushes VCRDomainShutoff and VCRDomainCrashed straight to
// Alertmanager (POST /api/v2/alerts) the moment a domain fails, and resolves
// them when it runs again: the sub-second detection path beside the rule
// path. Its Pusher is the failure.Sink that libvirt events, reconciliation
// and SNMP traps report to.
package fastpath

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
)

// namespace prefixes every metric of the exporter.
const namespace = "vcr"

// Options configures the Alertmanager pusher.
type Options struct {
	URLs []string // Alertmanager base URLs; /api/v2/alerts is appended
	// QueueSize bounds the alerts waiting per Alertmanager; beyond it new
	// ones are dropped and counted, so a dead Alertmanager costs memory
	// only up to this bound.
	QueueSize int
	// Attempts is the number of tries per batch (first one included) on
	// transport errors and 5xx/429 answers.
	Attempts int
	// BackoffMin and BackoffMax bound the exponential wait between tries.
	BackoffMin, BackoffMax time.Duration
	// ResendInterval is how often a firing alert is pushed again while the
	// domain stays down. Each push says endsAt = now + 4 intervals (as
	// Prometheus does), so Alertmanager resolves it by itself if the
	// exporter disappears, and never sooner.
	ResendInterval time.Duration
	Timeout        time.Duration // per HTTP request
	// Client sends the pushes; NewHTTPClient builds one from Prometheus'
	// HTTP client configuration (auth, TLS). Default: a plain client.
	Client       *http.Client
	GeneratorURL string
	// StandbyDomains gives the alerts of matching domains role="standby",
	// as deploy/prometheus/prometheus.yml's metric relabelling gives their
	// series (and so the rule path's alerts); nil: no role label.
	StandbyDomains *regexp.Regexp
}

func (o *Options) defaults() {
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 100 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 3 * time.Second
	}
	if o.ResendInterval <= 0 {
		o.ResendInterval = time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Timeout}
	}
}

// queued is an alert plus the moment its triggering event arrived, for the
// event-to-push latency histogram.
type queued struct {
	alert   PostableAlert
	eventAt time.Time
	resolve *resolveRef // set on a resolve, whose delivery is tracked
}

// Pusher pushes VCRDomainShutoff/VCRDomainCrashed to every Alertmanager
// the moment an event says a domain failed, and resolves them when it runs
// again. Fire and Resolve never block: each Alertmanager has its own
// bounded queue and worker.
type Pusher struct {
	opts    Options
	logger  *slog.Logger
	now     func() time.Time
	targets []*amTarget

	mu     sync.Mutex
	firing map[firingKey]*firingAlert
	// resolving holds the resolves some Alertmanager has not accepted yet:
	// they are sent again with every resend until each one has, or until
	// the domain fails again (a newer Fire supersedes them). A resolve is
	// never dropped, so Alertmanager never keeps a recovered domain firing.
	resolving map[firingKey]*pendingResolve
	gen       uint64 // numbers resolves, to tell a superseded one apart

	pushes   *prometheus.CounterVec
	dropped  *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	e2e      prometheus.Histogram
	queueLen *prometheus.GaugeVec
	firingG  prometheus.GaugeFunc
	alertG   *prometheus.Desc
	pendingG prometheus.GaugeFunc
}

// The pusher is what events and traps report failures to.
var _ failure.Sink = (*Pusher)(nil)

type firingKey struct{ host, uuid, alertname string }

type firingAlert struct {
	alert PostableAlert
}

// pendingResolve is a resolve and the Alertmanagers still to accept it.
type pendingResolve struct {
	alert   PostableAlert
	gen     uint64
	pending map[*amTarget]bool
}

// resolveRef ties a queued resolve to its pendingResolve.
type resolveRef struct {
	key firingKey
	gen uint64
}

type amTarget struct {
	name  string // host:port, the alertmanager label
	url   string // full /api/v2/alerts URL
	queue chan queued
}

// New validates the URLs and builds the pusher; Run starts it.
func New(opts Options, logger *slog.Logger) (*Pusher, error) {
	opts.defaults()
	f := &Pusher{opts: opts, logger: logger, now: time.Now, firing: make(map[firingKey]*firingAlert),
		resolving: make(map[firingKey]*pendingResolve)}
	for _, raw := range opts.URLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--alertmanager.url %q: want http(s)://host:port[/prefix]", raw)
		}
		full := strings.TrimSuffix(u.String(), "/") + "/api/v2/alerts"
		f.targets = append(f.targets, &amTarget{name: u.Host, url: full, queue: make(chan queued, opts.QueueSize)})
	}
	f.pushes = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "alertmanager", Name: "pushes_total",
		Help: "Fast-path pushes to Alertmanager, by result: success, retry (an attempt failed and will be retried), failure (gave up)."},
		[]string{"alertmanager", "result"})
	f.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "alertmanager", Name: "dropped_alerts_total",
		Help: "Alerts dropped because the queue for an Alertmanager was full."}, []string{"alertmanager"})
	f.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "alertmanager", Name: "push_duration_seconds",
		Help:    "Duration of one POST /api/v2/alerts attempt.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"alertmanager"})
	f.e2e = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "fastpath", Name: "event_to_push_seconds",
		Help:    "From receiving a failure/recovery event to Alertmanager accepting the alert, retries included.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}})
	f.queueLen = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "alertmanager", Name: "queue_length",
		Help: "Alerts waiting to be pushed to an Alertmanager."}, []string{"alertmanager"})
	f.firingG = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "fastpath", Name: "firing_alerts",
		Help: "Fast-path alerts currently firing (pushed and re-sent until the domain runs again)."},
		func() float64 { f.mu.Lock(); defer f.mu.Unlock(); return float64(len(f.firing)) })
	// One series per firing alert, with the alert's own labels: Prometheus'
	// ALERTS holds only the rule path's alerts, and dashboards show both.
	f.alertG = prometheus.NewDesc(prometheus.BuildFQName(namespace, "fastpath", "alert_firing"),
		"Always 1; a fast-path alert being pushed and kept alive, labelled like the alert (alertname, severity, domain, uuid, host, cloud).",
		alertLabelNames, nil)
	f.pendingG = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "fastpath", Name: "pending_resolves",
		Help: "Fast-path resolves not yet accepted by every Alertmanager; each is sent again every resend interval until it is, or the domain fails again."},
		func() float64 { f.mu.Lock(); defer f.mu.Unlock(); return float64(len(f.resolving)) })
	for _, t := range f.targets {
		for _, r := range []string{"success", "retry", "failure"} {
			f.pushes.WithLabelValues(t.name, r)
		}
		f.dropped.WithLabelValues(t.name)
	}
	return f, nil
}

// Describe and Collect make the pusher's metrics registrable as one unit.
func (f *Pusher) Describe(ch chan<- *prometheus.Desc) {
	f.pushes.Describe(ch)
	f.dropped.Describe(ch)
	f.latency.Describe(ch)
	f.e2e.Describe(ch)
	f.queueLen.Describe(ch)
	f.firingG.Describe(ch)
	ch <- f.alertG
	f.pendingG.Describe(ch)
}

// alertLabelNames are the labels of vcr_fastpath_alert_firing, those of
// the alert BuildAlert makes.
var alertLabelNames = []string{"alertname", "severity", "domain", "uuid", "host", "cloud"}

func (f *Pusher) Collect(ch chan<- prometheus.Metric) {
	for _, t := range f.targets {
		f.queueLen.WithLabelValues(t.name).Set(float64(len(t.queue)))
	}
	f.pushes.Collect(ch)
	f.dropped.Collect(ch)
	f.latency.Collect(ch)
	f.e2e.Collect(ch)
	f.queueLen.Collect(ch)
	f.firingG.Collect(ch)
	f.pendingG.Collect(ch)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fa := range f.firing {
		l := fa.alert.Labels
		ch <- prometheus.MustNewConstMetric(f.alertG, prometheus.GaugeValue, 1,
			l["alertname"], l["severity"], l["domain"], l["uuid"], l["host"], l["cloud"])
	}
}

// Alert is the alert Fire pushes for ev: BuildAlert's, plus role="standby"
// for a domain StandbyDomains matches.
func (f *Pusher) Alert(ev failure.DomainEvent, alertname string) PostableAlert {
	a := BuildAlert(ev, alertname, f.opts.GeneratorURL)
	if f.opts.StandbyDomains != nil && f.opts.StandbyDomains.MatchString(ev.Domain) {
		a.Labels["role"] = StandbyRole
	}
	return a
}

// Fire records the domain as failed and queues the alert for every
// Alertmanager. A second Fire for the same domain and alert keeps the
// original startsAt, and supersedes a resolve still pending.
func (f *Pusher) Fire(ev failure.DomainEvent, alertname string) {
	a := f.Alert(ev, alertname)
	a.EndsAt = ev.At.Add(4 * f.opts.ResendInterval)
	key := firingKey{ev.Host, ev.UUID, alertname}
	f.mu.Lock()
	if old, ok := f.firing[key]; ok {
		a.StartsAt = old.alert.StartsAt
	}
	f.firing[key] = &firingAlert{alert: a}
	delete(f.resolving, key)
	f.enqueue(queued{alert: a, eventAt: ev.At})
	f.mu.Unlock()
}

// Resolve sends endsAt=now for every alert the fast path has firing for the
// domain, and keeps each resolve until every Alertmanager has accepted it.
// A domain with nothing firing costs nothing.
func (f *Pusher) Resolve(ev failure.DomainEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for key, fa := range f.firing {
		if key.host == ev.Host && key.uuid == ev.UUID {
			a := fa.alert
			a.EndsAt = ev.At
			a.Annotations = maps.Clone(a.Annotations)
			a.Annotations["resolved_by"] = ev.Event + "/" + ev.Detail
			delete(f.firing, key)
			f.gen++
			pr := &pendingResolve{alert: a, gen: f.gen, pending: make(map[*amTarget]bool, len(f.targets))}
			for _, t := range f.targets {
				pr.pending[t] = true
			}
			f.resolving[key] = pr
			f.enqueue(queued{alert: a, eventAt: ev.At, resolve: &resolveRef{key: key, gen: pr.gen}})
		}
	}
}

// delivered records that t accepted the resolves of batch.
func (f *Pusher) delivered(t *amTarget, batch []queued) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, q := range batch {
		if q.resolve == nil {
			continue
		}
		pr, ok := f.resolving[q.resolve.key]
		if !ok || pr.gen != q.resolve.gen {
			continue // superseded, or accepted everywhere already
		}
		delete(pr.pending, t)
		if len(pr.pending) == 0 {
			delete(f.resolving, q.resolve.key)
		}
	}
}

// enqueue queues q for every Alertmanager. Callers hold f.mu: a queue then
// gets the pushes of one domain in the order its state changed, so a resend
// of a firing alert can never overtake the resolve that ended it. It never
// blocks (a full queue drops).
func (f *Pusher) enqueue(q queued) {
	for _, t := range f.targets {
		f.enqueueTo(t, q)
	}
}

func (f *Pusher) enqueueTo(t *amTarget, q queued) {
	select {
	case t.queue <- q:
	default:
		f.dropped.WithLabelValues(t.name).Inc()
		what := "the rule path still catches it"
		if q.resolve != nil {
			what = "resolves are sent again every resend interval until accepted"
		}
		f.logger.Error("alertmanager queue full; alert dropped ("+what+")",
			"alertmanager", t.name, "alertname", q.alert.Labels["alertname"], "domain", q.alert.Labels["domain"])
	}
}

// Run starts one worker per Alertmanager plus the re-sender, and blocks
// until ctx ends.
func (f *Pusher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, t := range f.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.work(ctx, t)
		}()
	}
	tick := time.NewTicker(f.opts.ResendInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C:
			f.resend()
		}
	}
}

// resend keeps the firing alerts alive and sends every resolve again to the
// Alertmanagers that have not accepted it yet.
func (f *Pusher) resend() {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fa := range f.firing {
		fa.alert.EndsAt = now.Add(4 * f.opts.ResendInterval)
		f.enqueue(queued{alert: fa.alert})
	}
	for key, pr := range f.resolving {
		for t := range pr.pending {
			f.enqueueTo(t, queued{alert: pr.alert, resolve: &resolveRef{key: key, gen: pr.gen}})
		}
	}
}

// maxBatch bounds how many queued alerts one POST carries.
const maxBatch = 64

func (f *Pusher) work(ctx context.Context, t *amTarget) {
	batch := make([]queued, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return
		case q := <-t.queue:
			batch = append(batch, q)
		}
		// Take whatever else is already waiting: a storm of failures goes
		// out in a few requests instead of one per domain.
	drain:
		for len(batch) < maxBatch {
			select {
			case q := <-t.queue:
				batch = append(batch, q)
			default:
				break drain
			}
		}
		f.push(ctx, t, batch)
	}
}

// push posts one batch with bounded retries and exponential backoff.
func (f *Pusher) push(ctx context.Context, t *amTarget, batch []queued) {
	alerts := make([]PostableAlert, len(batch))
	for i, q := range batch {
		alerts[i] = q.alert
	}
	body, err := json.Marshal(alerts)
	if err != nil {
		f.pushes.WithLabelValues(t.name, "failure").Inc()
		f.logger.Error("encode alerts", "err", err)
		return
	}
	delay := f.opts.BackoffMin
	for attempt := 1; ; attempt++ {
		retryable, err := f.post(ctx, t, body)
		if err == nil {
			f.pushes.WithLabelValues(t.name, "success").Inc()
			f.delivered(t, batch)
			done := f.now()
			for _, q := range batch {
				if !q.eventAt.IsZero() {
					f.e2e.Observe(done.Sub(q.eventAt).Seconds())
				}
			}
			f.logger.Debug("pushed alerts", "alertmanager", t.name, "alerts", len(batch), "attempt", attempt)
			return
		}
		if !retryable || attempt >= f.opts.Attempts || ctx.Err() != nil {
			f.pushes.WithLabelValues(t.name, "failure").Inc()
			f.logger.Error("push to alertmanager failed; giving up on this batch (firing alerts are re-sent every resend interval, and the rule path still applies)",
				"alertmanager", t.name, "alerts", len(batch), "attempts", attempt, "err", err)
			return
		}
		f.pushes.WithLabelValues(t.name, "retry").Inc()
		f.logger.Warn("push to alertmanager failed; retrying", "alertmanager", t.name, "attempt", attempt, "retry_in", delay, "err", err)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			f.pushes.WithLabelValues(t.name, "failure").Inc()
			return
		}
		delay = min(2*delay, f.opts.BackoffMax)
	}
}

// post sends one request; retryable follows Alertmanager's own notifier:
// transport errors, 5xx and 429 are worth another try, other 4xx are not.
func (f *Pusher) post(ctx context.Context, t *amTarget, body []byte) (retryable bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vcr-exporter")
	start := time.Now()
	resp, err := f.opts.Client.Do(req)
	f.latency.WithLabelValues(t.name).Observe(time.Since(start).Seconds())
	if err != nil {
		return true, fmt.Errorf("POST %s: %w", t.url, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	err = fmt.Errorf("POST %s: %s: %s", t.url, resp.Status, strings.TrimSpace(string(msg)))
	return resp.StatusCode/100 == 5 || resp.StatusCode == http.StatusTooManyRequests, err
}
