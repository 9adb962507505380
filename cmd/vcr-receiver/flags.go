package main

import (
	"fmt"
	"io"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/vcrcovery/vcrcovery/internal/daemonflag"
	"github.com/vcrcovery/vcrcovery/receiver/capacity"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const help = `VCRcovery's Alertmanager webhook receiver and recovery pipeline.

It accepts Alertmanager notifications at POST /api/v1/alerts, journals every
alert durably before answering, keeps at most one open incident per service,
and recovers the service: fence the failed primary through libvirt, let the
service's strategy plugin bring it up elsewhere, verify the endpoint, switch
DNS with one TSIG-signed UPDATE, and finalize. A recovery that cannot
complete, or that an operator cancels before its DNS switch, is undone by
the strategy's Abort. A restarted receiver resumes open incidents without
repeating a DNS switch.

API: GET /api/v1/incidents[/{id}], GET /api/v1/services, GET /api/v1/capacity,
GET /api/v1/services/{name}/plan, POST /api/v1/services/{name}/failover
(fences; ?force=true), /drill, /failback, POST /api/v1/incidents/{id}/acknowledge,
POST /api/v1/incidents/{id}/cancel, /metrics, /-/healthy, /-/ready; Go's
profiles under /debug/pprof/ (with the API's credentials). The webhook, the API,
the status page and the metrics share every --web.listen-address.

Signals: SIGHUP reloads the config (an invalid one is logged and ignored);
SIGTERM and SIGINT shut down gracefully.

Examples:

  vcr-receiver --config.file /etc/vcr/receiver.yml
  vcr-receiver --config.file /etc/vcr/receiver.yml --check-config

Flags take one or two dashes. See receiver/README.md.`

type flags struct {
	configFile  string
	web         *web.FlagConfig
	logLevel    string
	logFormat   string
	checkConfig bool
	// allowUnauthenticated lets the receiver listen beyond loopback with no
	// auth configured, for a site whose proxy in front authenticates.
	allowUnauthenticated bool
	// capacityMaxAge is how long the pre-flight answer is reused: each new
	// one reads every standby's resources and instances.
	capacityMaxAge time.Duration
}

func newApp(f *flags, out io.Writer) *kingpin.Application {
	app, webFlags := daemonflag.New(daemonflag.Daemon{Name: "vcr-receiver", Help: help, Version: version, ListenAddress: ":9478"}, out)
	f.web = webFlags
	app.Flag("config.file", "Receiver configuration file (YAML).").Default("/etc/vcr/receiver.yml").StringVar(&f.configFile)
	app.Flag("check-config", "Validate the config (and each service's plugin settings when the plugin is installed), then exit: 0 if valid, 1 with one line per problem.").
		BoolVar(&f.checkConfig)
	app.Flag("web.allow-unauthenticated", "Start even when listening beyond loopback with no auth configured (something in front must authenticate). "+
		"Without it the receiver refuses to start, and a reload is refused, when an address it listens on is reachable from other hosts "+
		"and neither the config's web.auth nor --web.config.file's basic_auth_users or verified client certificates authenticate callers.").
		BoolVar(&f.allowUnauthenticated)
	app.Flag("capacity.max-age", "How long the pre-flight capacity answer (GET /api/v1/capacity, the status page, vcr_capacity_* metrics) is reused "+
		"before the standbys are read again.").Default(capacity.DefaultMaxAge.String()).DurationVar(&f.capacityMaxAge)
	app.Flag("log.level", "Log level: debug, info, warn or error.").Default("info").StringVar(&f.logLevel)
	app.Flag("log.format", "Log format: logfmt or json.").Default("logfmt").StringVar(&f.logFormat)
	return app
}

// parseFlags parses args (without the program name). --help and --version
// print to out and return daemonflag.ErrExit.
func parseFlags(args []string, out io.Writer) (flags, error) {
	var f flags
	if err := daemonflag.Parse(newApp(&f, out), args); err != nil {
		return f, err
	}
	if f.capacityMaxAge <= 0 {
		return f, fmt.Errorf("--capacity.max-age %s: give a positive duration such as 10s", f.capacityMaxAge)
	}
	return f, nil
}
