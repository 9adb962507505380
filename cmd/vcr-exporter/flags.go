package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/vcrcovery/vcrcovery/exporter/collector"
	"github.com/vcrcovery/vcrcovery/exporter/fastpath"
	"github.com/vcrcovery/vcrcovery/internal/daemonflag"
	"github.com/vcrcovery/vcrcovery/internal/virt"
)

// listValue is a repeatable string flag in which commas also separate
// values, so that --alertmanager.url=a,b and two --alertmanager.url flags
// mean the same.
type listValue []string

func (l *listValue) String() string { return strings.Join(*l, ",") }
func (l *listValue) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// IsCumulative tells kingpin the flag may repeat.
func (l *listValue) IsCumulative() bool { return true }

type config struct {
	web                              *web.FlagConfig
	telemetryPath                    string
	uri, socket                      string
	dialTimeout                      time.Duration
	xmlTTL, jobInterval, poolRefresh time.Duration
	metadataLabels                   listValue
	amURLs                           listValue
	amAttempts, amQueue              int
	amResend, amTimeout              time.Duration
	amHTTPConfig, amStandbyRegex     string
	snmpAddr, snmpCommunity          string
	snmpHosts, snmpAllow             listValue
	snmpAllowUnauthenticated         bool
	host, cloud                      string
	scrapeTimeout, retention         time.Duration
	logLevel, logFormat              string
	lxdSocket, lxdURL, lxdRole       string
	lxdCert, lxdKey, lxdServerCert   string
	lxdCPUs                          float64
}

// listen is --web.listen-address for the start-up log line.
func (c *config) listen() string { return daemonflag.ListenAddresses(c.web) }

// newApp declares every flag; daemonflag.New adds those all the daemons
// share.
func newApp(c *config, out io.Writer) *kingpin.Application {
	hostname, _ := os.Hostname()
	app, webFlags := daemonflag.New(daemonflag.Daemon{
		Name: "vcr-exporter",
		Help: "Exports libvirt domain metrics for Prometheus (one ConnectGetAllDomainStats call per scrape), " +
			"counts lifecycle events, and pushes VCRDomainShutoff/VCRDomainCrashed to Alertmanager the moment a domain fails. " +
			"Flags take one or two dashes. See exporter/README.md.",
		Version:       version,
		ListenAddress: ":9477",
	}, out)
	c.web = webFlags
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&c.telemetryPath)

	app.Flag("libvirt.uri", "libvirt driver URI to open through the daemon, e.g. qemu:///system or test:///default.").
		Default(virt.DefaultURI).StringVar(&c.uri)
	app.Flag("libvirt.socket", "libvirtd socket: a unix socket path, or tcp://host:port for a remote libvirtd listening on TCP without TLS. "+
		"Metrics and events need only the read-only socket (/run/libvirt/libvirt-sock-ro); see deploy/systemd/vcr-exporter.service.").
		Default(virt.DefaultSocket).StringVar(&c.socket)
	app.Flag("libvirt.dial-timeout", "Bound on connecting to libvirtd (dial plus handshake).").Default("5s").DurationVar(&c.dialTimeout)
	app.Flag("libvirt.xml-ttl", "Longest time a domain's parsed XML (OS, disks, interfaces, <metadata>) is kept without a lifecycle event "+
		"that changes it (define, start, stop); it is refreshed in the background, never during a scrape.").Default("10m").DurationVar(&c.xmlTTL)
	app.Flag("libvirt.metadata-label", "Turn a key of the domains' <metadata> into a label of vcr_domain_metadata_info, as "+
		"LABEL=NAMESPACE-URI#PATH (PATH: elements below the namespace's element, slash-separated, an optional @attribute last), "+
		"e.g. team=https://example.com/ops/1#owner/team. Repeatable.").PlaceHolder("LABEL=URI#PATH").SetValue(&c.metadataLabels)
	app.Flag("libvirt.job-interval", "How often each running domain is asked whether it has a job (migration, save, dump, backup); "+
		"domains with one are then asked at every scrape. 0 turns the vcr_domain_job_* metrics off.").Default("15s").DurationVar(&c.jobInterval)
	app.Flag("libvirt.pool-interval", "How often storage pools are listed and measured, in the background. 0 turns the vcr_storage_pool_* metrics off.").
		Default("1m").DurationVar(&c.poolRefresh)

	app.Flag("alertmanager.url", "Alertmanager base URL to push fast-path alerts to (POST <url>/api/v2/alerts). Repeat for several; empty turns the fast path off.").
		PlaceHolder("URL").SetValue(&c.amURLs)
	app.Flag("alertmanager.attempts", "Tries per push (first included) when Alertmanager is unreachable or answers 5xx/429.").Default("5").IntVar(&c.amAttempts)
	app.Flag("alertmanager.queue-size", "Alerts that may wait per Alertmanager; more are dropped and counted in vcr_alertmanager_dropped_alerts_total.").
		Default("1024").IntVar(&c.amQueue)
	app.Flag("alertmanager.resend-interval", "How often a firing fast-path alert is pushed again while its domain stays down; each push is valid for 4 intervals.").
		Default("1m").DurationVar(&c.amResend)
	app.Flag("alertmanager.timeout", "Timeout of one push request.").Default("5s").DurationVar(&c.amTimeout)
	app.Flag("alertmanager.http-config-file", "Prometheus HTTP client configuration for the pushes (basic_auth, authorization, tls_config with client certificates, "+
		"proxy_url: the keys of http_config in Prometheus' alertmanager_config), for an Alertmanager behind TLS or authentication.").
		Default("").PlaceHolder("FILE").StringVar(&c.amHTTPConfig)
	app.Flag("alertmanager.standby-domain-regex", "Fast-path alerts of domains whose name matches get role=\"standby\", as the rule path's get it from "+
		"deploy/prometheus/prometheus.yml's metric relabelling: keep both regexes equal (anchored, RE2). Empty: no role label.").
		Default(fastpath.DefaultStandbyDomainRegex).StringVar(&c.amStandbyRegex)

	app.Flag("snmp.trap-address", "UDP address to receive libvirt-snmp (LIBVIRT-MIB) v2c traps on, e.g. :162; empty turns the receiver off.").
		Default("").StringVar(&c.snmpAddr)
	app.Flag("snmp.community", "Accept only traps with this community. A trap receiver needs it, --snmp.allow, or both.").Default("").StringVar(&c.snmpCommunity)
	app.Flag("snmp.allow", "Accept traps only from these sender addresses: a CIDR (10.0.0.0/24) or an address. Repeatable.").
		PlaceHolder("CIDR").SetValue(&c.snmpAllow)
	app.Flag("snmp.allow-unauthenticated", "Accept traps from any sender with any community, when neither --snmp.community nor --snmp.allow is set: "+
		"only where nothing else can reach the trap port, since a forged trap fails a service over.").BoolVar(&c.snmpAllowUnauthenticated)
	app.Flag("snmp.host", "Map a trap source IP to the sending host's name, as IP=HOST: the sender label of the vcr_snmp_* metrics and the host label of its fast-path alerts. Repeatable. Unmapped sources use their IP.").
		PlaceHolder("IP=HOST").SetValue(&c.snmpHosts)

	app.Flag("host", "Value of the host label on domain metrics and fast-path alerts; must equal this target's host label in Prometheus.").
		Default(hostname).StringVar(&c.host)
	app.Flag("cloud", "Value of the cloud label on domain metrics and fast-path alerts; must equal this target's cloud label in Prometheus.").
		Default("").StringVar(&c.cloud)
	app.Flag("scrape.timeout", "Bound on one scrape, the libvirt round trip included; keep it below Prometheus' scrape_timeout.").
		Default("10s").DurationVar(&c.scrapeTimeout)
	app.Flag("events.retention", "How long a domain that vanished after a stop/crash event (a transient domain) is still exported with that state.").
		Default("10m").DurationVar(&c.retention)

	app.Flag("lxd.socket", "LXD unix socket of the standby VM's daemon (e.g. /var/lib/lxd/unix.socket) for per-container CPU/memory and capacity; empty with empty --lxd.url turns the LXD collector off.").
		Default("").StringVar(&c.lxdSocket)
	app.Flag("lxd.url", "LXD HTTPS address (https://host:8443) instead of --lxd.socket; needs --lxd.client-cert, --lxd.client-key and --lxd.server-cert.").
		Default("").StringVar(&c.lxdURL)
	app.Flag("lxd.client-cert", "PEM client certificate the LXD daemon trusts (with --lxd.url).").Default("").StringVar(&c.lxdCert)
	app.Flag("lxd.client-key", "PEM key of --lxd.client-cert.").Default("").StringVar(&c.lxdKey)
	app.Flag("lxd.server-cert", "The LXD daemon's server.crt, pinned (with --lxd.url).").Default("").StringVar(&c.lxdServerCert)
	app.Flag("lxd.role", "Value of the role label on vcr_lxd_* series; the rules read role=\"standby\".").
		Default(collector.DefaultLXDRole).StringVar(&c.lxdRole)
	app.Flag("lxd.cpus", "CPUs the standby's containers may use, exported as vcr_lxd_cpus; 0 takes the LXD host's CPU count from /1.0/resources. Set it when the host has more CPUs than the standby may use (a CPU quota, a shared host).").
		Default("0").Float64Var(&c.lxdCPUs)

	app.Flag("log.level", "Log level: debug, info, warn or error.").Default("info").StringVar(&c.logLevel)
	app.Flag("log.format", "Log format: logfmt or json.").Default("logfmt").StringVar(&c.logFormat)
	return app
}

// parseFlags parses args (without the program name). --help and --version
// print to out and return daemonflag.ErrExit.
func parseFlags(args []string, out io.Writer) (*config, error) {
	c := &config{}
	if err := daemonflag.Parse(newApp(c, out), args); err != nil {
		return nil, err
	}
	if c.host == "" {
		return nil, errors.New("--host is empty and the hostname is unknown; set --host")
	}
	if !strings.HasPrefix(c.telemetryPath, "/") {
		return nil, fmt.Errorf("--web.telemetry-path %q must start with /", c.telemetryPath)
	}
	return c, nil
}
