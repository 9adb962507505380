package exporter

import (
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/exporter-toolkit/web"
)

// markReady and ready back /-/ready: ready once the first libvirt
// connection attempt is over, whatever its outcome.
func (e *Exporter) markReady() { e.isReady.Store(true) }

func (e *Exporter) ready() bool { return e.isReady.Load() }

// maxScrapesInFlight bounds concurrent /metrics requests, as promhttp's
// MaxRequestsInFlight does.
const maxScrapesInFlight = 10

// metricsHandler serves the text format, which Prometheus asks for, through
// collector.Set.WriteText (the libvirt series written straight out), gzip'd
// at the fastest level when the client accepts it; any other format
// (protobuf) goes through promhttp and the same series. Collectors are
// bounded by what the scraper allows (scrapeBudget).
func (e *Exporter) metricsHandler() http.Handler {
	opts := promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(e.logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	}
	inflight := make(chan struct{}, maxScrapesInFlight)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case inflight <- struct{}{}:
			defer func() { <-inflight }()
		default:
			http.Error(w, fmt.Sprintf("Limit of concurrent requests reached (%d), try again later.", maxScrapesInFlight), http.StatusServiceUnavailable)
			return
		}
		set, base := e.scrape(scrapeBudget(r.Header, e.scrapeTimeout))
		format := expfmt.Negotiate(r.Header)
		if format.FormatType() != expfmt.TypeTextPlain {
			promhttp.HandlerForTransactional(set.Gatherer(base), opts).ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", string(format))
		var out io.Writer = w
		if acceptsGzip(r) {
			w.Header().Set("Content-Encoding", "gzip")
			z, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
			defer z.Close()
			out = z
		}
		// Errors of single collectors are in vcr_scrape_collector_success
		// already; the page goes out with what the others produced.
		if err := set.WriteText(out, base); err != nil {
			e.logger.Error("write /metrics", "err", err)
		}
	})
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if enc == "gzip" {
			return true
		}
	}
	return false
}

// Handler serves the telemetry path, /-/healthy, /-/ready and a landing page.
func (e *Exporter) Handler(telemetryPath, version string) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle(telemetryPath, e.metricsHandler())
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
