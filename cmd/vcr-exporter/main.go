// Command vcr-exporter exposes one hypervisor's libvirt domains to
// Prometheus and pushes domain failures straight to Alertmanager (the
// VCRcovery fast path). See exporter/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/vcrcovery/vcrcovery/exporter"
	"github.com/vcrcovery/vcrcovery/exporter/collector"
	"github.com/vcrcovery/vcrcovery/exporter/fastpath"
	"github.com/vcrcovery/vcrcovery/exporter/lifecycle"
	"github.com/vcrcovery/vcrcovery/exporter/snmptrap"
	"github.com/vcrcovery/vcrcovery/internal/logging"
	"github.com/vcrcovery/vcrcovery/internal/virt"
	"github.com/vcrcovery/vcrcovery/lxd"
)

var version = "dev"

// listFlag is a repeatable string flag; commas also separate values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

type config struct {
	listen, telemetryPath, webConfig string
	uri, socket                      string
	dialTimeout                      time.Duration
	amURLs                           listFlag
	amAttempts, amQueue              int
	amResend, amTimeout              time.Duration
	snmpAddr, snmpCommunity          string
	snmpHosts                        listFlag
	host, cloud                      string
	scrapeTimeout, retention         time.Duration
	logLevel, logFormat              string
	lxdSocket, lxdURL, lxdRole       string
	lxdCert, lxdKey, lxdServerCert   string
	lxdCPUs                          float64
	showVersion                      bool
}

func parseFlags(args []string, stderr *os.File) (*config, error) {
	hostname, _ := os.Hostname()
	c := &config{}
	fs := flag.NewFlagSet("vcr-exporter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "web.listen-address", ":9477", "Address to serve /metrics, /-/healthy and /-/ready on.")
	fs.StringVar(&c.telemetryPath, "web.telemetry-path", "/metrics", "Path under which to expose metrics.")
	fs.StringVar(&c.webConfig, "web.config.file", "", "Path to an exporter-toolkit web configuration file enabling TLS and/or basic auth (empty: plain HTTP).")
	fs.StringVar(&c.uri, "libvirt.uri", virt.DefaultURI, "libvirt driver URI to open through the daemon, e.g. qemu:///system or test:///default.")
	fs.StringVar(&c.socket, "libvirt.socket", virt.DefaultSocket, "libvirtd socket: a unix socket path, or tcp://host:port for a remote libvirtd listening on TCP without TLS.")
	fs.DurationVar(&c.dialTimeout, "libvirt.dial-timeout", 5*time.Second, "Bound on connecting to libvirtd (dial plus handshake).")
	fs.Var(&c.amURLs, "alertmanager.url", "Alertmanager base URL to push fast-path alerts to (POST <url>/api/v2/alerts). Repeat for several; empty turns the fast path off.")
	fs.IntVar(&c.amAttempts, "alertmanager.attempts", 5, "Tries per push (first included) when Alertmanager is unreachable or answers 5xx/429.")
	fs.IntVar(&c.amQueue, "alertmanager.queue-size", 1024, "Alerts that may wait per Alertmanager; more are dropped and counted in vcr_alertmanager_dropped_alerts_total.")
	fs.DurationVar(&c.amResend, "alertmanager.resend-interval", time.Minute, "How often a firing fast-path alert is pushed again while its domain stays down; each push is valid for 4 intervals.")
	fs.DurationVar(&c.amTimeout, "alertmanager.timeout", 5*time.Second, "Timeout of one push request.")
	fs.StringVar(&c.snmpAddr, "snmp.trap-address", "", "UDP address to receive libvirt-snmp (LIBVIRT-MIB) v2c traps on, e.g. :162; empty turns the receiver off.")
	fs.StringVar(&c.snmpCommunity, "snmp.community", "", "Accept only traps with this community (empty: any).")
	fs.Var(&c.snmpHosts, "snmp.host", "Map a trap source IP to a host label, as IP=HOST. Repeatable. Unmapped sources use their IP.")
	fs.StringVar(&c.host, "host", hostname, "Value of the host label on domain metrics and fast-path alerts; must equal this target's host label in Prometheus.")
	fs.StringVar(&c.cloud, "cloud", "", "Value of the cloud label on domain metrics and fast-path alerts; must equal this target's cloud label in Prometheus.")
	fs.DurationVar(&c.scrapeTimeout, "scrape.timeout", 10*time.Second, "Bound on one scrape, the libvirt round trip included; keep it below Prometheus' scrape_timeout.")
	fs.DurationVar(&c.retention, "events.retention", 10*time.Minute, "How long a domain that vanished after a stop/crash event (a transient domain) is still exported with that state.")
	fs.StringVar(&c.lxdSocket, "lxd.socket", "", "LXD unix socket of the standby VM's daemon (e.g. /var/lib/lxd/unix.socket) for per-container CPU/memory and capacity; empty with empty --lxd.url turns the LXD collector off.")
	fs.StringVar(&c.lxdURL, "lxd.url", "", "LXD HTTPS address (https://host:8443) instead of --lxd.socket; needs --lxd.client-cert, --lxd.client-key and --lxd.server-cert.")
	fs.StringVar(&c.lxdCert, "lxd.client-cert", "", "PEM client certificate the LXD daemon trusts (with --lxd.url).")
	fs.StringVar(&c.lxdKey, "lxd.client-key", "", "PEM key of --lxd.client-cert.")
	fs.StringVar(&c.lxdServerCert, "lxd.server-cert", "", "The LXD daemon's server.crt, pinned (with --lxd.url).")
	fs.StringVar(&c.lxdRole, "lxd.role", collector.DefaultLXDRole, "Value of the role label on vcr_lxd_* series; the rules read role=\"standby\".")
	fs.Float64Var(&c.lxdCPUs, "lxd.cpus", 0, "CPUs the standby's containers may use, exported as vcr_lxd_cpus; 0 takes the LXD host's CPU count from /1.0/resources. Set it when the host has more CPUs than the standby may use (a CPU quota, a shared host).")
	fs.StringVar(&c.logLevel, "log.level", "info", "Log level: debug, info, warn or error.")
	fs.StringVar(&c.logFormat, "log.format", "logfmt", "Log format: logfmt or json.")
	fs.BoolVar(&c.showVersion, "version", false, "Print the version and exit.")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vcr-exporter [flags]\n\n"+
			"Exports libvirt domain metrics for Prometheus (one ConnectGetAllDomainStats call per scrape),\n"+
			"counts lifecycle events, and pushes VCRDomainShutoff/VCRDomainCrashed to Alertmanager the\n"+
			"moment a domain fails. Flags take one or two dashes.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q; all settings are flags (see --help)", fs.Args())
	}
	if c.host == "" {
		return nil, errors.New("--host is empty and the hostname is unknown; set --host")
	}
	if !strings.HasPrefix(c.telemetryPath, "/") {
		return nil, fmt.Errorf("--web.telemetry-path %q must start with /", c.telemetryPath)
	}
	return c, nil
}

func main() {
	if err := run(); err != nil {
		if errors.Is(err, flag.ErrHelp) {
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
	if c.showVersion {
		fmt.Println("vcr-exporter", version)
		return nil
	}
	logger, err := logging.New(os.Stderr, c.logLevel, c.logFormat)
	if err != nil {
		return err
	}
	if c.webConfig != "" {
		if err := web.Validate(c.webConfig); err != nil {
			return fmt.Errorf("--web.config.file %s: %w", c.webConfig, err)
		}
	}
	opts := exporter.Options{
		Dial:           lifecycle.LibvirtDialer(c.socket, c.uri, c.dialTimeout),
		Host:           c.host,
		Cloud:          c.cloud,
		ScrapeTimeout:  c.scrapeTimeout,
		EventRetention: c.retention,
		Logger:         logger,
	}
	if len(c.amURLs) > 0 {
		opts.FastPath = &fastpath.Options{URLs: c.amURLs, Attempts: c.amAttempts, QueueSize: c.amQueue,
			ResendInterval: c.amResend, Timeout: c.amTimeout}
	}
	if c.snmpAddr != "" {
		hosts := map[string]string{}
		for _, m := range c.snmpHosts {
			ip, h, ok := strings.Cut(m, "=")
			if !ok || ip == "" || h == "" {
				return fmt.Errorf("--snmp.host %q: want IP=HOST", m)
			}
			hosts[ip] = h
		}
		opts.SNMP = &snmptrap.Options{Address: c.snmpAddr, Community: c.snmpCommunity, Hosts: hosts}
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

	logger.Info("starting vcr-exporter", "version", version, "listen", c.listen, "libvirt_uri", c.uri,
		"libvirt_socket", c.socket, "host", c.host, "cloud", c.cloud, "alertmanagers", len(c.amURLs), "snmp", c.snmpAddr, "lxd", c.lxdSocket+c.lxdURL)
	runDone := make(chan struct{})
	go func() {
		_ = exp.Run(ctx)
		close(runDone)
	}()

	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	listen := []string{c.listen}
	systemdSocket := false
	flags := &web.FlagConfig{WebListenAddresses: &listen, WebSystemdSocket: &systemdSocket, WebConfigFile: &c.webConfig}
	srvErr := make(chan error, 1)
	go func() { srvErr <- web.ListenAndServe(srv, flags, logger) }()

	select {
	case err := <-srvErr:
		stop()
		<-runDone
		return fmt.Errorf("serve on %s: %w", c.listen, err)
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
