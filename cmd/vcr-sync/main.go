// Command vcr-sync keeps each service's data current on its standby: MariaDB
// replication, declared paths over SSH, scheduled cold backups; and promotes
// or reverses it on the receiver's request. See datasync/README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/vcrcovery/vcrcovery/datasync"
	"github.com/vcrcovery/vcrcovery/internal/daemonflag"
	"github.com/vcrcovery/vcrcovery/internal/logging"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, daemonflag.ErrExit) {
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
	logger, err := logging.New(os.Stderr, f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	cfg, err := datasync.LoadConfig(f.configFile)
	if err != nil {
		return err
	}
	if err := daemonflag.CheckWebConfig(f.web); err != nil {
		return err
	}
	if f.checkConfig {
		fmt.Printf("vcr-sync: %s is valid: %d services\n", f.configFile, len(cfg.Services))
		return nil
	}
	d := datasync.New(cfg, logger)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger.Info("starting vcr-sync", "version", version, "listen", daemonflag.ListenAddresses(f.web), "config", f.configFile, "services", len(cfg.Services))
	runDone := make(chan struct{})
	go func() {
		d.Run(ctx)
		close(runDone)
	}()
	srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 10 * time.Second}
	srvErr := make(chan error, 1)
	go func() { srvErr <- web.ListenAndServe(srv, f.web, logger) }()
	select {
	case err := <-srvErr:
		stop()
		<-runDone
		return fmt.Errorf("serve on %s: %w", daemonflag.ListenAddresses(f.web), err)
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
