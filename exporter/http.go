package exporter

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
)

// markReady and ready back /-/ready: ready once the first libvirt
// connection attempt is over, whatever its outcome.
func (e *Exporter) markReady() { e.isReady.Store(true) }

func (e *Exporter) ready() bool { return e.isReady.Load() }

// Handler serves the telemetry path, /-/healthy, /-/ready and a landing page.
func (e *Exporter) Handler(telemetryPath, version string) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle(telemetryPath, promhttp.HandlerForTransactional(e.metrics, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(e.logger.Handler(), slog.LevelError),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 10,
	}))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		fmt.Fprintln(w, "Healthy")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !e.ready() {
			http.Error(w, "Not ready: first libvirt connection attempt still running", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
		if e.sup.Current() != nil {
			fmt.Fprintln(w, "Ready (libvirt connected)")
		} else {
			fmt.Fprintln(w, "Ready (libvirt unreachable: vcr_libvirt_up is 0, reconnecting)")
		}
	})
	if telemetryPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "vcr-exporter",
			Description: "libvirt domain metrics, lifecycle events and the VCRcovery alert fast path",
			Version:     version,
			Links: []web.LandingLinks{
				{Address: telemetryPath, Text: "Metrics"},
				{Address: "/-/healthy", Text: "Health"},
				{Address: "/-/ready", Text: "Readiness"},
			},
		})
		if err != nil {
			return nil, fmt.Errorf("landing page: %w", err)
		}
		mux.Handle("/", landing)
	}
	return mux, nil
}
