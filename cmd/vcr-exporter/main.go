// Command vcr-exporter exposes one hypervisor's libvirt domains to
// Prometheus and pushes domain failures straight to Alertmanager (the
// VCRcovery fast path). See exporter/README.md.
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

	"github.com/vcrcovery/vcrcovery/exporter"
	"github.com/vcrcovery/vcrcovery/exporter/collector"
	"github.com/vcrcovery/vcrcovery/exporter/lifecycle"
	"github.com/vcrcovery/vcrcovery/internal/daemonflag"
	"github.com/vcrcovery/vcrcovery/internal/logging"
	"github.com/vcrcovery/vcrcovery/lxd"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// offIfZero maps a flag's 0 ("off") to the negative interval that turns an
// exporter part off; exporter.Options reads 0 as "default".
func offIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

func main() {
	if err := run(); err != nil {
		if errors.Is(err, daemonflag.ErrExit) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "vcr-exporter:", err)
		os.Exit(1)
	}
}

func run() error {
	c, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		return err
	}
	logger, err := logging.New(os.Stderr, c.logLevel, c.logFormat)
	if err != nil {
		return err
	}
	if err := daemonflag.CheckWebConfig(c.web); err != nil {
		return err
	}
	opts := exporter.Options{
		Dial:           lifecycle.LibvirtDialer(c.socket, c.uri, c.dialTimeout),
		Host:           c.host,
		Cloud:          c.cloud,
		ScrapeTimeout:  c.scrapeTimeout,
		EventRetention: c.retention,
		XMLTTL:         c.xmlTTL,
		JobInterval:    offIfZero(c.jobInterval),
		PoolInterval:   offIfZero(c.poolRefresh),
		MetadataLabels: c.metadataLabels,
		Logger:         logger,
	}
	if opts.FastPath, err = fastPathOptions(c); err != nil {
		return err
	}
	if opts.SNMP, err = snmpOptions(c); err != nil {
		return err
	}
	if c.lxdSocket != "" || c.lxdURL != "" {
		opts.LXD = &collector.LXDOptions{Role: c.lxdRole, CPUs: c.lxdCPUs, Config: lxd.Config{Socket: c.lxdSocket, URL: c.lxdURL,
			ClientCert: c.lxdCert, ClientKey: c.lxdKey, ServerCert: c.lxdServerCert}}
	}
	exp, err := exporter.New(opts)
	if err != nil {
		return err
	}
	handler, err := exp.Handler(c.telemetryPath, version)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	logger.Info("starting vcr-exporter", "version", version, "listen", c.listen(), "libvirt_uri", c.uri,
		"libvirt_socket", c.socket, "host", c.host, "cloud", c.cloud, "alertmanagers", len(c.amURLs), "snmp", c.snmpAddr, "lxd", c.lxdSocket+c.lxdURL)
	runDone := make(chan struct{})
	go func() {
		_ = exp.Run(ctx)
		close(runDone)
	}()

	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	srvErr := make(chan error, 1)
	go func() { srvErr <- web.ListenAndServe(srv, c.web, logger) }()

	select {
	case err := <-srvErr:
		stop()
		<-runDone
		return fmt.Errorf("serve on %s: %w", c.listen(), err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	select {
	case <-runDone:
	case <-shutCtx.Done():
		logger.Warn("background work did not stop in time; exiting anyway")
	}
	return nil
}
