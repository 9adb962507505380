package receiver

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
)

// MaxBodyBytes bounds a webhook body; Alertmanager's payloads for one group
// are far smaller.
const MaxBodyBytes = 1 << 20

// Handler returns the receiver's HTTP API. gatherer serves /metrics (nil
// means the default registry).
//
// Every state-changing request passes cross-origin protection first: a
// browser that cached an operator's Basic credentials must not let another
// site's form POST start a failover. Browsers mark such a request
// (Sec-Fetch-Site, Origin) and get 403; Alertmanager, vcrctl and curl send
// neither header and pass, as does the status page's own same-origin form.
func (r *Receiver) Handler(gatherer prometheus.Gatherer) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused: "+req.Method+" "+req.URL.Path+
			" came from another site's page; use the receiver's status page, vcrctl or the API directly")
	}))
	return cop.Handler(r.routes(gatherer))
}

// routes is the API's mux, behind Handler's cross-origin protection.
func (r *Receiver) routes(gatherer prometheus.Gatherer) http.Handler {
	if gatherer == nil {
		gatherer = prometheus.DefaultGatherer
	}
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/alerts", r.auth(http.HandlerFunc(r.handleAlerts)))
	mux.Handle("GET /api/v1/incidents", r.auth(http.HandlerFunc(r.handleIncidents)))
	mux.Handle("GET /api/v1/incidents/{id}", r.auth(http.HandlerFunc(r.handleIncident)))
	mux.Handle("GET /api/v1/events", r.auth(http.HandlerFunc(r.handleEvents)))
	mux.Handle("POST /api/v1/incidents/{id}/acknowledge", r.auth(http.HandlerFunc(r.handleAcknowledge)))
	mux.Handle("POST /api/v1/incidents/{id}/retry", r.auth(http.HandlerFunc(r.handleRetry)))
	mux.Handle("POST /api/v1/incidents/{id}/cancel", r.auth(http.HandlerFunc(r.handleCancel)))
	mux.Handle("GET /api/v1/services", r.auth(http.HandlerFunc(r.handleServices)))
	mux.Handle("POST /api/v1/services/{name}/failover", r.auth(http.HandlerFunc(r.handleManual(api.KindManualFailover))))
	mux.Handle("POST /api/v1/services/{name}/drill", r.auth(http.HandlerFunc(r.handleManual(api.KindDrill))))
	mux.Handle("POST /api/v1/services/{name}/failback", r.auth(http.HandlerFunc(r.handleManual(api.KindFailback))))
	mux.Handle("GET /api/v1/services/{name}/plan", r.auth(http.HandlerFunc(r.handlePlan)))
	mux.Handle("GET /api/v1/maintenance", r.auth(http.HandlerFunc(r.handleMaintenance)))
	mux.Handle("POST /api/v1/maintenance", r.auth(http.HandlerFunc(r.handleStartMaintenance)))
	mux.Handle("DELETE /api/v1/maintenance/{id}", r.auth(http.HandlerFunc(r.handleStopMaintenance)))
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	r.debugRoutes(mux)
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("Healthy.\n"))
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !r.ready.Load() {
			http.Error(w, "Not ready: loading the journal or shutting down.", http.StatusServiceUnavailable)
			return
		}
		// Alerts are still journaled, but no switch could succeed.
		if p := r.dnsProblem(); p != "" {
			http.Error(w, "Not ready: "+p, http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("Ready.\n"))
	})
	return mux
}

// Authenticate wraps next in the receiver's auth, for handlers mounted beside
// the API (the status page).
func (r *Receiver) Authenticate(next http.Handler) http.Handler { return r.auth(next) }

// auth accepts the configured bearer token or basic auth. With neither
// configured the API is open.
func (r *Receiver) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		cfg := r.Config()
		token, basic := cfg.BearerToken, cfg.Web.Auth.BasicAuth
		if token == "" && basic == nil {
			next.ServeHTTP(w, req)
			return
		}
		ok := false
		if h := req.Header.Get("Authorization"); token != "" && strings.HasPrefix(h, "Bearer ") {
			ok = subtle.ConstantTimeCompare([]byte(strings.TrimPrefix(h, "Bearer ")), []byte(token)) == 1
		}
		if u, p, has := req.BasicAuth(); !ok && has && basic != nil {
			ok = subtle.ConstantTimeCompare([]byte(u), []byte(basic.Username)) == 1 &&
				subtle.ConstantTimeCompare([]byte(p), []byte(cfg.BasicPassword)) == 1
		}
		if !ok {
			if req.URL.Path == "/api/v1/alerts" {
				r.m.webhookRequests.WithLabelValues("401").Inc()
			}
			// A browser prompts only for Basic, so offer it when configured.
			if basic != nil {
				w.Header().Add("WWW-Authenticate", `Basic realm="vcr-receiver", charset="UTF-8"`)
			}
			w.Header().Add("WWW-Authenticate", `Bearer realm="vcr-receiver"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong credentials: send the bearer token from web.auth.bearer_token_file or the basic auth user")
			return
		}
		next.ServeHTTP(w, req)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, api.Error{Error: msg})
}

// statusOf maps an operation's error kind to its HTTP status. The first
// match wins: an operation that could not be journaled is unavailable (503,
// worth a retry) whatever the journal's reason, even a lost ownership.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrConflict), errors.Is(err, ErrNotOwner):
		return http.StatusConflict
	default:
		return http.StatusInternalServerError
	}
}

// DecodeWebhook parses and checks an Alertmanager webhook body. Its error
// names the problem for a 400 answer.
func DecodeWebhook(body []byte) (*Message, error) {
	var msg Message
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&msg); err != nil {
		return nil, fmt.Errorf("malformed JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("malformed JSON: trailing data after the payload")
	}
	if msg.Data == nil {
		return nil, errors.New("payload holds no alert data")
	}
	if msg.Version != "4" {
		return nil, fmt.Errorf("unsupported webhook version %q: this receiver speaks Alertmanager's version \"4\"", msg.Version)
	}
	if len(msg.Alerts) == 0 {
		return nil, errors.New("payload holds no alerts")
	}
	for i, a := range msg.Alerts {
		if a.Status != "firing" && a.Status != "resolved" {
			return nil, fmt.Errorf("alerts[%d].status is %q: want firing or resolved", i, a.Status)
		}
		if a.Labels["alertname"] == "" {
			return nil, fmt.Errorf("alerts[%d] has no alertname label", i)
		}
	}
	return &msg, nil
}

func (r *Receiver) handleAlerts(w http.ResponseWriter, req *http.Request) {
	code := http.StatusOK
	defer func() { r.m.webhookRequests.WithLabelValues(strconv.Itoa(code)).Inc() }()
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			code = http.StatusRequestEntityTooLarge
			writeError(w, code, fmt.Sprintf("body larger than %d bytes: lower max_alerts in the Alertmanager webhook config", MaxBodyBytes))
			return
		}
		code = http.StatusBadRequest
		writeError(w, code, "could not read the body: "+err.Error())
		return
	}
	msg, err := DecodeWebhook(body)
	if err != nil {
		code = http.StatusBadRequest
		writeError(w, code, err.Error())
		return
	}
	if msg.TruncatedAlerts > 0 {
		r.log.Warn("Alertmanager truncated a notification; raise max_alerts so no failure goes unseen", "truncated", msg.TruncatedAlerts, "group", msg.GroupKey)
	}
	ids, err := r.Ingest(req.Context(), msg)
	if err != nil {
		// Only a journal failure lands here: 503 (ErrUnavailable) when a
		// retry may succeed, 500 when the write exceeds a limit of the
		// backend and retrying would fail the same way.
		code = statusOf(err)
		if code == http.StatusServiceUnavailable {
			r.log.Error("alerts not journaled; answering 503 so Alertmanager retries", "err", err)
		} else {
			r.log.Error("alerts not journaled, and a retry would fail the same way; answering "+strconv.Itoa(code), "err", err)
		}
		writeError(w, code, "alerts could not be journaled: "+err.Error())
		return
	}
	writeJSON(w, code, api.AlertsResponse{Accepted: len(msg.Alerts), Incidents: ids})
}

// handleIncidents lists incidents newest first: all of them, or with
// ?limit=N one page of N, and the next page with ?cursor= set to the
// previous answer's NextCursorHeader (absent after the last page).
func (r *Receiver) handleIncidents(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	var incs []api.Incident
	var err error
	limit, cursor := 0, q.Get("cursor")
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 0 {
			writeError(w, http.StatusBadRequest, "limit must be a whole number of incidents (0: all)")
			return
		}
	}
	h, paged := r.history()
	switch {
	case paged && (limit > 0 || cursor != ""):
		var next string
		incs, next, err = h.IncidentsPage(req.Context(), limit, cursor)
		if next != "" {
			w.Header().Set(api.NextCursorHeader, next)
		}
	default:
		incs, err = r.opts.Journal.Incidents(req.Context())
		if err == nil && limit > 0 && len(incs) > limit {
			incs = incs[:limit]
		}
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if incs == nil {
		incs = []api.Incident{}
	}
	writeJSON(w, http.StatusOK, incs)
}

// EventIncidents is how many of the newest incidents the status page and
// GET /api/v1/events read (plus the open ones, and the rest of a mass
// event the page cuts).
const EventIncidents = 200

// handleEvents lists the mass events among the recent incidents, newest
// first, each with its incidents' progress.
func (r *Receiver) handleEvents(w http.ResponseWriter, req *http.Request) {
	incs, err := r.RecentIncidents(req.Context(), EventIncidents)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, api.MassEvents(incs))
}

func (r *Receiver) handleIncident(w http.ResponseWriter, req *http.Request) {
	id := req.PathValue("id")
	inc, err := r.opts.Journal.Incident(req.Context(), id)
	if errors.Is(err, journal.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no incident "+id+": list them with GET /api/v1/incidents")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

// Services reports every configured service and where it runs.
func (r *Receiver) Services() []api.ServiceStatus {
	cfg := r.Config()
	out := make([]api.ServiceStatus, 0, len(cfg.Services))
	r.store.locked(func() {
		for _, s := range cfg.Services {
			st := r.store.stateLocked(s.Name)
			ss := api.ServiceStatus{Name: s.Name, Strategy: s.Strategy.Name, DNSName: s.DNS.Name, Location: st.location, CurrentAddress: st.address}
			if mi := r.store.heldLocked(s.Name); mi != nil {
				ss.OpenIncident = mi.inc.ID
			} else {
				ss.OpenIncident = r.store.remoteLocked(s.Name)
			}
			if ss.CurrentAddress == "" || st.location == api.LocationPrimary {
				ss.CurrentAddress = s.Primary.Address
			}
			ss.Actions = r.actions(&s, ss)
			out = append(out, ss)
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// actions are the runs Manual would accept for a service now, with their
// plans: none while an incident holds it; on its primary a manual failover
// and a drill; elsewhere a failback.
func (r *Receiver) actions(svc *config.Service, st api.ServiceStatus) []api.Plan {
	p := r.store.pipeline
	switch {
	case st.OpenIncident != "":
		return nil
	case st.Location == api.LocationPrimary:
		return []api.Plan{p.Plan(api.KindManualFailover, false, svc), p.Plan(api.KindDrill, false, svc)}
	default:
		return []api.Plan{p.Plan(api.KindFailback, false, svc)}
	}
}

func (r *Receiver) handleServices(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, r.Services())
}

// forced reads the `force` query parameter of a manual run.
func forced(req *http.Request) (bool, error) {
	v := req.URL.Query().Get("force")
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, withKind(ErrInvalid, fmt.Errorf("force=%q: use force=true or leave it out", v))
	}
	return b, nil
}

func (r *Receiver) handleManual(kind api.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		force, err := forced(req)
		if err != nil {
			writeError(w, statusOf(err), err.Error())
			return
		}
		inc, err := r.Manual(req.Context(), req.PathValue("name"), kind, force)
		if err != nil {
			writeError(w, statusOf(err), err.Error())
			return
		}
		writeJSON(w, http.StatusAccepted, inc)
	}
}

func (r *Receiver) handleAcknowledge(w http.ResponseWriter, req *http.Request) {
	inc, err := r.Acknowledge(req.Context(), req.PathValue("id"))
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

func (r *Receiver) handlePlan(w http.ResponseWriter, req *http.Request) {
	force, err := forced(req)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	plan, err := r.Plan(req.PathValue("name"), api.Kind(req.URL.Query().Get("kind")), force)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, plan)
}

func (r *Receiver) handleRetry(w http.ResponseWriter, req *http.Request) {
	inc, err := r.Retry(req.Context(), req.PathValue("id"))
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, inc)
}

func (r *Receiver) handleMaintenance(w http.ResponseWriter, _ *http.Request) {
	ws := r.Maintenance()
	if ws == nil {
		ws = []api.Maintenance{}
	}
	writeJSON(w, http.StatusOK, ws)
}

func (r *Receiver) handleStartMaintenance(w http.ResponseWriter, req *http.Request) {
	var mr api.MaintenanceRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&mr); err != nil {
		writeError(w, http.StatusBadRequest, "the body is not a maintenance request: "+err.Error()+`; send {"service"|"host"|"cloud": "...", "duration": "2h", "comment": "..."}`)
		return
	}
	win, err := r.StartMaintenance(req.Context(), mr)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, win)
}

func (r *Receiver) handleStopMaintenance(w http.ResponseWriter, req *http.Request) {
	win, err := r.StopMaintenance(req.Context(), req.PathValue("id"))
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, win)
}

// handleCancel answers 202: the cancel is journaled, and the runner stops
// and undoes the recovery shortly after.
func (r *Receiver) handleCancel(w http.ResponseWriter, req *http.Request) {
	inc, err := r.Cancel(req.Context(), req.PathValue("id"))
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, inc)
}
