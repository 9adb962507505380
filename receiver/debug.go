package receiver

import (
	"net/http"
	"net/http/pprof"
)

// debugRoutes serves Go's profiles under /debug/pprof/, as Prometheus and
// Alertmanager do, so a slow mass failover can be profiled where it runs
// (`go tool pprof http://…/debug/pprof/profile?seconds=10`). They sit behind
// the API's credentials: a profile shows the receiver's memory, which holds
// the TSIG secret and the tokens.
func (r *Receiver) debugRoutes(mux *http.ServeMux) {
	mux.Handle("GET /debug/pprof/", r.auth(http.HandlerFunc(pprof.Index)))
	mux.Handle("GET /debug/pprof/cmdline", r.auth(http.HandlerFunc(pprof.Cmdline)))
	mux.Handle("GET /debug/pprof/profile", r.auth(http.HandlerFunc(pprof.Profile)))
	mux.Handle("GET /debug/pprof/symbol", r.auth(http.HandlerFunc(pprof.Symbol)))
	mux.Handle("GET /debug/pprof/trace", r.auth(http.HandlerFunc(pprof.Trace)))
}
