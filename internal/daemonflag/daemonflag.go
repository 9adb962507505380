// Package daemonflag holds the command line every VCRcovery daemon
// (vcr-exporter, vcr-receiver, vcr-sync) shares: kingpin in the style of the
// Prometheus exporters, exporter-toolkit's web flags, --version, and the
// spellings Go's flag package accepted before the daemons moved to kingpin.
package daemonflag

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	promversion "github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"
)

// ErrExit is what Parse returns after --help or --version printed what was
// asked: the daemon should exit with status 0.
var ErrExit = errors.New("exit")

// Daemon describes one daemon's command line.
type Daemon struct {
	Name string
	// Help is the text --help prints above the flags: what the daemon does.
	Help string
	// Version is printed by --version unless the build set
	// github.com/prometheus/common/version.Version.
	Version string
	// ListenAddress is --web.listen-address's default.
	ListenAddress string
}

// New returns the daemon's application with -h/--help, --version and
// exporter-toolkit's --web.listen-address (repeatable), --web.systemd-socket
// and --web.config.file. Help, version and parse errors go to out.
func New(d Daemon, out io.Writer) (*kingpin.Application, *web.FlagConfig) {
	if promversion.Version == "" {
		promversion.Version = d.Version
	}
	app := kingpin.New(d.Name, d.Help)
	app.UsageWriter(out).ErrorWriter(out)
	app.Version(promversion.Print(d.Name))
	app.HelpFlag.Short('h')
	return app, kingpinflag.AddFlags(app, d.ListenAddress)
}

// Parse parses args (without the program name) into app's flags. After
// --help or --version it returns ErrExit; an error names the flag at fault.
func Parse(app *kingpin.Application, args []string) error {
	exit := false
	app.Terminate(func(int) { exit = true })
	args = GoFlagSpellings(app, args)
	_, err := app.Parse(args)
	if exit {
		return ErrExit
	}
	if err != nil {
		return fmt.Errorf("%w (see --help)", nameBadValue(app, args, err))
	}
	return nil
}

// nameBadValue adds the flag and what it takes to err when err is a value
// that flag refused: kingpin returns the value's own error (`time: invalid
// duration "x"`), which does not say which flag to fix.
func nameBadValue(app *kingpin.Application, args []string, err error) error {
	ctx, perr := app.ParseContext(args)
	if perr != nil {
		return err
	}
	for _, e := range ctx.Elements {
		f, ok := e.Clause.(*kingpin.FlagClause)
		if !ok || e.Value == nil {
			continue
		}
		m := f.Model()
		// The parse already failed, so setting a value again changes nothing
		// that is used; the first value that fails again is the one at fault.
		if serr := m.Value.Set(*e.Value); serr != nil {
			return fmt.Errorf("--%s %q: give %s (%v)", m.Name, *e.Value, expected(m.Value), serr)
		}
	}
	return err
}

// expected says what kind of value v takes.
func expected(v kingpin.Value) string {
	g, ok := v.(kingpin.Getter)
	if !ok {
		return "a valid value"
	}
	switch g.Get().(type) {
	case time.Duration:
		return "a duration such as 10s, 1m30s or 2h"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "a whole number"
	case float32, float64:
		return "a number"
	case bool:
		return "true or false"
	}
	return "a valid value"
}

// GoFlagSpellings rewrites what Go's flag package accepted and kingpin does
// not, for every long flag of app: one dash (-name, -name=value), since the
// daemons' flags have always taken one dash or two and kingpin reads one as
// short flags; a boolean flag given a value (--name=true, -name=false),
// which becomes --name or --no-name; and a value that starts with a dash
// (--name -5s), which kingpin takes for a flag: a flag that takes a value
// takes the next argument, whatever it is. Everything after a bare "--" is
// left alone.
func GoFlagSpellings(app *kingpin.Application, args []string) []string {
	long := map[string]bool{}
	boolean := map[string]bool{}
	for _, f := range app.Model().Flags {
		long[f.Name] = true
		if f.IsBoolFlag() {
			long["no-"+f.Name] = true
			boolean[f.Name] = true
		}
	}
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			name, _, _ := strings.Cut(a[1:], "=")
			if long[name] {
				a = "-" + a
			}
		}
		if name, ok := strings.CutPrefix(a, "--"); ok {
			name, value, hasValue := strings.Cut(name, "=")
			switch {
			case boolean[name] && hasValue:
				if on, err := strconv.ParseBool(value); err == nil {
					a = "--" + name
					if !on {
						a = "--no-" + name
					}
				}
			case long[name] && !boolean[name] && !hasValue && i+1 < len(args):
				i++
				a += "=" + args[i]
			}
		}
		out = append(out, a)
	}
	return out
}

// ListenAddresses is --web.listen-address for log lines, the addresses
// separated by commas.
func ListenAddresses(fc *web.FlagConfig) string {
	if fc == nil || fc.WebListenAddresses == nil {
		return ""
	}
	return strings.Join(*fc.WebListenAddresses, ",")
}

// CheckWebConfig reads --web.config.file, if any, so that a bad one stops
// the daemon at start rather than when it begins to serve.
func CheckWebConfig(fc *web.FlagConfig) error {
	if fc == nil || fc.WebConfigFile == nil || *fc.WebConfigFile == "" {
		return nil
	}
	if err := web.Validate(*fc.WebConfigFile); err != nil {
		return fmt.Errorf("--web.config.file %s: %w", *fc.WebConfigFile, err)
	}
	return nil
}
