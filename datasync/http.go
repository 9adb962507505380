package datasync

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves /metrics, /-/healthy, /-/ready and the API:
//
//	GET  /api/v1/services                    every service's status
//	GET  /api/v1/services/{name}             one
//	POST /api/v1/services/{name}/promote     failover: the standby becomes primary
//	POST /api/v1/services/{name}/reverse     failback, before the switch: the primary follows the standby
//	POST /api/v1/services/{name}/resume      failback, after the switch: the standby follows the primary
//	POST /api/v1/services/{name}/reseed      copy the primary's database onto the standby again
//	POST /api/v1/services/{name}/sync/{kind} one attempt of database, files or backup now
//
// Errors answer {"error", "cause", "fix"}: 404 for an unknown service or kind, 409
// for an operation the service's mode does not allow, 502 when a side failed.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("OK\n")) })
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !d.ready.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("OK\n"))
	})
	mux.HandleFunc("GET /api/v1/services", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, d.Status()) })
	mux.HandleFunc("GET /api/v1/services/{name}", func(w http.ResponseWriter, r *http.Request) {
		rn, err := d.runner(r.PathValue("name"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, rn.Status())
	})
	op := func(f func(ctx context.Context, service string) (any, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			res, err := f(r.Context(), r.PathValue("name"))
			if err != nil {
				writeError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, res)
		}
	}
	mux.HandleFunc("POST /api/v1/services/{name}/promote", op(func(ctx context.Context, s string) (any, error) { return d.Promote(ctx, s) }))
	mux.HandleFunc("POST /api/v1/services/{name}/reverse", op(func(ctx context.Context, s string) (any, error) { return d.Reverse(ctx, s) }))
	mux.HandleFunc("POST /api/v1/services/{name}/resume", op(func(ctx context.Context, s string) (any, error) { return d.Resume(ctx, s) }))
	mux.HandleFunc("POST /api/v1/services/{name}/reseed", op(func(ctx context.Context, s string) (any, error) {
		n, err := d.Reseed(ctx, s)
		return map[string]int64{"bytes": n}, err
	}))
	mux.HandleFunc("POST /api/v1/services/{name}/sync/{kind}", func(w http.ResponseWriter, r *http.Request) {
		st, err := d.Sync(r.Context(), r.PathValue("name"), r.PathValue("kind"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	code := http.StatusBadGateway
	switch {
	case errors.Is(err, ErrUnknownService), errors.Is(err, ErrUnknownKind):
		code = http.StatusNotFound
	case errors.Is(err, ErrWrongMode):
		code = http.StatusConflict
	}
	body := map[string]string{"error": err.Error()}
	var e *Error
	if errors.As(err, &e) {
		body["cause"], body["fix"] = string(e.Cause), e.Cause.Fix()
	}
	writeJSON(w, code, body)
}
