// Command vcr-sync keeps each service's data current on its standby: MariaDB
// replication, declared paths over SSH, scheduled cold backups; and promotes
// or reverses it on the receiver's request. See datasync/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/vcrcovery/vcrcovery/datasync"
	"github.com/vcrcovery/vcrcovery/internal/logging"
)

var version = "dev"

const usage = `vcr-sync: keeps the data of VCRcovery's services current on their standby.

Per service it keeps the standby container's MariaDB a GTID replica of the
primary's (heartbeat-measured lag), copies the declared sync.paths from the
primary to the standby over SSH with rsync through a local mirror (the standby
only ever receives a complete copy), and takes scheduled cold backups (dump and
paths) into the backup store. The receiver calls it to promote the standby at
failover and to reverse the direction before a failback.

API: GET /api/v1/services[/{name}], POST /api/v1/services/{name}/promote,
.../reverse, .../resume, .../reseed, .../sync/{database|files|backup};
/metrics, /-/healthy, /-/ready.

Signals: SIGTERM and SIGINT stop it gracefully (attempts in flight are cancelled;
a cancelled copy leaves the standby at its last complete state).

Usage:
  vcr-sync --config.file /etc/vcr/sync.yml [flags]
  vcr-sync --config.file /etc/vcr/sync.yml --check-config

Flags:
`

type flags struct {
	configFile, listen, webConfig, logLevel, logFormat string
	checkConfig, showVersion                           bool
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("vcr-sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.configFile, "config.file", "/etc/vcr/sync.yml", "configuration `file` (YAML)")
	fs.StringVar(&f.listen, "web.listen-address", ":9480", "`address` to serve the API, /metrics, /-/healthy and /-/ready on")
	fs.StringVar(&f.webConfig, "web.config.file", "", "exporter-toolkit web config `file` for TLS and basic auth (empty: plain HTTP)")
	fs.StringVar(&f.logLevel, "log.level", "info", "log `level`: debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log.format", "logfmt", "log `format`: logfmt or json")
	fs.BoolVar(&f.checkConfig, "check-config", false, "validate the configuration, then exit")
	fs.BoolVar(&f.showVersion, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected arguments %q; all settings are flags (see --help)", fs.Args())
	}
	return f, nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "vcr-sync:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	f, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	if f.showVersion {
		fmt.Println("vcr-sync", version)
		return nil
	}
	logger, err := logging.New(os.Stderr, f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	cfg, err := datasync.LoadConfig(f.configFile)
	if err != nil {
		return err
	}
	if f.webConfig != "" {
		if err := web.Validate(f.webConfig); err != nil {
			return fmt.Errorf("--web.config.file %s: %w", f.webConfig, err)
		}
	}
	if f.checkConfig {
		fmt.Printf("vcr-sync: %s is valid: %d services\n", f.configFile, len(cfg.Services))
		return nil
	}
	d := datasync.New(cfg, logger)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger.Info("starting vcr-sync", "version", version, "listen", f.listen, "config", f.configFile, "services", len(cfg.Services))
	runDone := make(chan struct{})
	go func() {
		d.Run(ctx)
		close(runDone)
	}()
	srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 10 * time.Second}
	listen := []string{f.listen}
	systemdSocket := false
	wf := &web.FlagConfig{WebListenAddresses: &listen, WebSystemdSocket: &systemdSocket, WebConfigFile: &f.webConfig}
	srvErr := make(chan error, 1)
	go func() { srvErr <- web.ListenAndServe(srv, wf, logger) }()
	select {
	case err := <-srvErr:
		stop()
		<-runDone
		return fmt.Errorf("serve on %s: %w", f.listen, err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	select {
	case <-runDone:
	case <-shutCtx.Done():
		logger.Warn("attempts in flight did not stop in time; exiting anyway")
	}
	return nil
}
