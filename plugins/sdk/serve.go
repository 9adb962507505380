package sdk

import (
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// envNoParentWatch, when set to "1", turns off the parent-death watch in
// Serve. It exists so the SDK's own tests can show what go-plugin does
// without it (the plugin outlives a SIGKILLed host), which is why it is not
// exported.
const envNoParentWatch = "VCR_STRATEGY_NO_PARENT_WATCH"

// parentPollInterval bounds how long a plugin outlives a host that died
// without a chance to kill it (SIGKILL, OOM killer).
const parentPollInterval = 200 * time.Millisecond

// exitGrace is how long in-flight calls get to unwind (their contexts are
// already cancelled, because the host's connection is gone) before the
// plugin exits.
const exitGrace = 2 * time.Second

// Serve runs s as a strategy plugin and never returns. Call it from main and
// do nothing before it that writes to stdout: stdout carries the go-plugin
// handshake. Log with slog (Serve installs Logger as the default) or to
// stderr; the host relays both into its own log.
//
// A plugin exits when the host that started it dies, even by SIGKILL, so a
// crashed receiver leaves no orphan plugins behind. go-plugin's own server
// does not watch for that; Serve polls the parent PID, which (unlike Linux's
// PR_SET_PDEATHSIG) cannot fire early when the host thread that forked the
// plugin happens to exit while the host lives on.
func Serve(s Strategy) {
	logger := Logger()
	slog.SetDefault(logger)
	calls := new(sync.WaitGroup)
	if os.Getenv(envNoParentWatch) != "1" {
		go watchParent(logger, os.Getppid(), calls)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake(),
		VersionedPlugins: versionedPlugins(s, calls),
		GRPCServer:       plugin.DefaultGRPCServer,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:       "plugin",
			Level:      hclog.Info,
			Output:     os.Stderr,
			JSONFormat: true,
		}),
	})
}

// watchParent exits the process once its parent is gone: the kernel then
// reparents it, so getppid changes.
func watchParent(logger *slog.Logger, parent int, calls *sync.WaitGroup) {
	for {
		time.Sleep(parentPollInterval)
		if os.Getppid() == parent {
			continue
		}
		logger.Warn("host process is gone; exiting", "host_pid", parent)
		done := make(chan struct{})
		go func() { calls.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(exitGrace):
		}
		os.Exit(0)
	}
}

// Logger returns a slog logger that writes JSON lines to stderr in the shape
// go-plugin's host parses (hclog's @level/@message/@timestamp keys), so a
// plugin's log lines appear in the receiver's log at their own level.
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				return slog.String("@level", strings.ToLower(a.Value.String()))
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	}))
}
