// Command vcr-receiver is VCRcovery's Alertmanager webhook receiver: it
// journals alerts, opens at most one incident per failed service and runs its
// recovery (fence, prepare, verify, switch DNS, finalize), resuming after a
// restart. See receiver/README.md for the configuration.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/vcrcovery/vcrcovery/cost"
	"github.com/vcrcovery/vcrcovery/internal/daemonflag"
	"github.com/vcrcovery/vcrcovery/internal/logging"
	"github.com/vcrcovery/vcrcovery/plugins/manager"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/receiver"
	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/capacity"
	"github.com/vcrcovery/vcrcovery/receiver/config"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
	"github.com/vcrcovery/vcrcovery/receiver/live"
	"github.com/vcrcovery/vcrcovery/receiver/pipeline"
	"github.com/vcrcovery/vcrcovery/receiver/ui"
)

var _ pipeline.Strategies = (*manager.Manager)(nil)

func main() {
	f, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, daemonflag.ErrExit) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vcr-receiver:", err)
		os.Exit(2)
	}
	log, err := logging.New(os.Stderr, f.logLevel, f.logFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vcr-receiver:", err)
		os.Exit(2)
	}
	if f.checkConfig {
		os.Exit(checkConfig(f.configFile, log))
	}
	if err := run(f, log); err != nil {
		log.Error("vcr-receiver stopped", "err", err)
		os.Exit(1)
	}
}

// checkConfig validates the file and, for each service whose plugin is
// installed, asks the plugin to validate its settings.
func checkConfig(path string, log *slog.Logger) int {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "config invalid:\n%v\n", indent(err.Error()))
		return 1
	}
	m, err := manager.New(manager.Config{Dir: cfg.Plugins.Dir, Checksums: cfg.Plugins.Checksums, CallTimeout: cfg.Plugins.Timeout, Logger: log})
	if err != nil {
		fmt.Fprintf(os.Stderr, "config valid, but plugin settings not checked: %v\n", err)
		return 0
	}
	defer m.Close()
	installed := map[string]bool{}
	for _, n := range m.Names() {
		installed[n] = true
	}
	bad := 0
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type strategyAt struct {
		path string
		st   *config.Strategy
	}
	for i, s := range cfg.Services {
		strategies := []strategyAt{{fmt.Sprintf("services[%d].strategy", i), &s.Strategy}}
		if s.ScaleUp != nil {
			strategies = append(strategies, strategyAt{fmt.Sprintf("services[%d].scaleup", i), s.ScaleUp})
		}
		for _, x := range strategies {
			if !installed[x.st.Name] {
				fmt.Fprintf(os.Stderr, "%s.name: plugin vcr-strategy-%s is not installed in %s; settings not checked\n", x.path, x.st.Name, cfg.Plugins.Dir)
				continue
			}
			req := sdk.ValidateRequest{Service: s.Name, Settings: x.st.SettingsJSON, Shared: cfg.Shared()}
			if err := m.ValidateConfig(ctx, x.st.Name, req); err != nil {
				fmt.Fprintf(os.Stderr, "%s.settings: %v\n", x.path, err)
				bad++
			}
		}
	}
	if bad > 0 {
		return 1
	}
	fmt.Printf("%s: config valid (%d services)\n", path, len(cfg.Services))
	return 0
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

func run(f flags, log *slog.Logger) error {
	cfg, err := config.Load(f.configFile)
	if err != nil {
		return fmt.Errorf("load config:\n%v", indent(err.Error()))
	}
	if err := daemonflag.CheckWebConfig(f.web); err != nil {
		return err
	}
	// Read once: exporter-toolkit takes systemd's sockets when it starts
	// serving, and a reload checks the config against the same addresses.
	listening, err := listenAddresses(f.web)
	if err != nil {
		return err
	}
	if err := refuseExposure(f, listening, cfg); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	j, err := openJournal(cfg.Journal, log, reg)
	if err != nil {
		return err
	}
	defer j.Close()
	plugins, err := manager.New(manager.Config{Dir: cfg.Plugins.Dir, Checksums: cfg.Plugins.Checksums, CallTimeout: cfg.Plugins.Timeout, Logger: log.With("component", "plugins")})
	if err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	defer plugins.Close()
	log.Info("strategy plugins found", "dir", cfg.Plugins.Dir, "strategies", plugins.Names())

	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var rcv *receiver.Receiver
	reg.MustRegister(cost.NewCollector(func() *cost.Config { return rcv.Config().Cost }))
	r, err := receiver.New(receiver.Options{
		Config: cfg, Journal: j, Fencer: live.Fencer{}, Strategies: live.CountRestarts(plugins, reg), Prober: live.Prober{}, DNS: live.DNS{}, DNSProbe: live.DNS{},
		Logger: log, Registry: reg,
	})
	if err != nil {
		return err
	}
	rcv = r
	if err := r.Start(context.Background()); err != nil {
		return err
	}

	// The estimate drains each standby as the pipeline does: at most
	// pipeline.max_concurrent_prepares at once.
	preflight := capacity.New(capacity.Options{Config: r.Config, Incidents: j.Incidents, Logger: log.With("component", "capacity"),
		Concurrency: func(string) int { return r.Config().Pipeline.MaxConcurrentPrepares }, MaxAge: f.capacityMaxAge})
	reg.MustRegister(capacity.NewCollector(preflight))

	srv := &http.Server{Handler: withStatusPage(r, reg, j, preflight, log), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- web.ListenAndServe(srv, f.web, log) }()
	log.Info("vcr-receiver started", "version", version, "listen", strings.Join(listening, ","), "services", len(cfg.Services), "journal", cfg.Journal.Backend)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	for {
		select {
		case err := <-serveErr:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			shutdown(r, srv, log)
			return fmt.Errorf("serve on %s: %w", strings.Join(listening, ","), err)
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				reload(r, f, listening, log)
				continue
			}
			log.Info("shutting down", "signal", sig.String())
			shutdown(r, srv, log)
			return nil
		}
	}
}

// refuseExposure fails when the receiver would listen beyond loopback
// without auth and --web.allow-unauthenticated was not given.
func refuseExposure(f flags, listening []string, cfg *config.Config) error {
	if f.allowUnauthenticated {
		return nil
	}
	why, err := exposedWithoutAuth(listening, cfg, *f.web.WebConfigFile)
	if err != nil {
		return err
	}
	if why != "" {
		return errors.New(why)
	}
	return nil
}

// shutdown stops accepting requests, lets in-flight webhook requests finish
// their journal writes, then stops the pipelines at a journaled point.
func shutdown(r *receiver.Receiver, srv *http.Server, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("HTTP shutdown", "err", err)
	}
	if err := r.Shutdown(ctx); err != nil {
		log.Warn("pipelines did not stop in time; they resume at the next start", "err", err)
	}
}

// reload swaps in a new config if it is valid. Settings read only at start
// (journal, plugin dir and checksums) need a restart; reload says so.
func reload(r *receiver.Receiver, f flags, listening []string, log *slog.Logger) {
	cfg, err := config.Load(f.configFile)
	if err == nil {
		err = refuseExposure(f, listening, cfg) // a reload must not drop the auth an exposed listener needs
	}
	if err != nil {
		r.ReloadResult(false)
		log.Error("config reload failed; keeping the old config", "err", err)
		return
	}
	old := r.Config()
	if !reflect.DeepEqual(cfg.Journal, old.Journal) || cfg.Plugins.Dir != old.Plugins.Dir || !maps.Equal(cfg.Plugins.Checksums, old.Plugins.Checksums) || cfg.Plugins.Timeout != old.Plugins.Timeout {
		log.Warn("journal and plugins settings changed: they take effect at the next restart")
	}
	r.SetConfig(cfg)
	r.ReloadResult(true)
	log.Info("config reloaded", "services", len(cfg.Services))
}

// withStatusPage serves the status page at "/" beside the API, behind the
// same auth: it shows what the receiver knows and its buttons post to the API.
// The page reads a page of the newest incidents and the open ones, never
// the whole history (Receiver.RecentIncidents).
func withStatusPage(r *receiver.Receiver, reg *prometheus.Registry, j journal.Journal, preflight *capacity.View, log *slog.Logger) http.Handler {
	standby := ui.NewLXDStandby(r.Config().LXDRemotes)
	src := ui.Funcs{
		ServicesFunc: func(context.Context) ([]api.ServiceStatus, error) { return r.Services(), nil },
		IncidentsFunc: func(ctx context.Context) ([]api.Incident, error) {
			return r.RecentIncidents(ctx, receiver.EventIncidents)
		},
		IncidentFunc: func(ctx context.Context, id string) (api.Incident, bool, error) {
			inc, err := j.Incident(ctx, id)
			if errors.Is(err, journal.ErrNotFound) {
				return inc, false, nil
			}
			return inc, err == nil, err
		},
		StandbyFunc:     standby.Standby,
		MaintenanceFunc: func(context.Context) ([]api.Maintenance, error) { return r.Maintenance(), nil },
		CostConfig:      func() *cost.Config { return r.Config().Cost },
		CapacityFunc:    func(ctx context.Context) (*api.Capacity, error) { c := preflight.Capacity(ctx); return &c, nil },
	}
	page := r.Authenticate(http.NewCrossOriginProtection().Handler(ui.New(src, ui.Options{Logger: log.With("component", "ui")})))
	apiHandler := r.Handler(reg)
	mux := http.NewServeMux()
	mux.Handle("/", page)
	mux.Handle("GET /api/v1/capacity", r.Authenticate(preflight))
	for _, p := range []string{"/api/", "/metrics", "/-/", "/debug/pprof/"} {
		mux.Handle(p, apiHandler)
	}
	return mux
}
