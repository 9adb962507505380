package main

import (
	"io"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/vcrcovery/vcrcovery/internal/daemonflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const help = `Keeps the data of VCRcovery's services current on their standby.

Per service it keeps the standby container's MariaDB a GTID replica of the
primary's (heartbeat-measured lag), copies the declared sync.paths from the
primary to the standby over SSH with rsync through a local mirror (the standby
only ever receives a complete copy), and takes scheduled cold backups (dump and
paths) into the backup store. The receiver calls it to promote the standby at
failover and to reverse the direction before a failback.

API: GET /api/v1/services[/{name}], POST /api/v1/services/{name}/promote,
.../reverse, .../resume, .../reseed, .../sync/{database|files|backup};
/metrics, /-/healthy, /-/ready; on every --web.listen-address.

Signals: SIGTERM and SIGINT stop it gracefully (attempts in flight are cancelled;
a cancelled copy leaves the standby at its last complete state).

Examples:

  vcr-sync --config.file /etc/vcr/sync.yml
  vcr-sync --config.file /etc/vcr/sync.yml --check-config

Flags take one or two dashes. See datasync/README.md.`

type flags struct {
	configFile, logLevel, logFormat string
	web                             *web.FlagConfig
	checkConfig                     bool
}

func newApp(f *flags, out io.Writer) *kingpin.Application {
	app, webFlags := daemonflag.New(daemonflag.Daemon{Name: "vcr-sync", Help: help, Version: version, ListenAddress: ":9480"}, out)
	f.web = webFlags
	app.Flag("config.file", "Configuration file (YAML).").Default("/etc/vcr/sync.yml").StringVar(&f.configFile)
	app.Flag("check-config", "Validate the configuration (and --web.config.file), then exit.").BoolVar(&f.checkConfig)
	app.Flag("log.level", "Log level: debug, info, warn or error.").Default("info").StringVar(&f.logLevel)
	app.Flag("log.format", "Log format: logfmt or json.").Default("logfmt").StringVar(&f.logFormat)
	return app
}

// parseFlags parses args (without the program name). --help and --version
// print to out and return daemonflag.ErrExit.
func parseFlags(args []string, out io.Writer) (flags, error) {
	var f flags
	err := daemonflag.Parse(newApp(&f, out), args)
	return f, err
}
