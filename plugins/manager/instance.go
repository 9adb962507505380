package manager

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// exitWait bounds how long a failed call waits for go-plugin to notice that
// the process died: the broken connection usually arrives a moment before
// the process is reaped.
const exitWait = 2 * time.Second

// instance is one running plugin process.
type instance struct {
	name     string
	client   *plugin.Client
	strategy sdk.Strategy
	stderr   *tailBuffer

	exitOnce sync.Once
	exited   chan struct{}
	cause    string

	// Guarded by Manager.mu.
	inflight int
	retired  bool
	killing  bool
}

func (i *instance) setExit(cause string) {
	i.exitOnce.Do(func() {
		i.cause = cause
		close(i.exited)
	})
}

func (i *instance) exitCause() string {
	select {
	case <-i.exited:
		return i.describe(i.cause)
	default:
		return "still running"
	}
}

// waitExit reports whether the process has exited and why, waiting a little
// when the call failed in a way that suggests it is dying.
func (i *instance) waitExit(wait bool) (string, bool) {
	if wait {
		select {
		case <-i.exited:
		case <-time.After(exitWait):
		}
	}
	select {
	case <-i.exited:
		return i.describe(i.cause), true
	default:
		return "", false
	}
}

// describe adds the plugin's last stderr lines, which hold a panic message
// or the reason the plugin gave before exiting.
func (i *instance) describe(cause string) string {
	if tail := i.stderr.lastLines(3); tail != "" {
		return cause + " (last stderr: " + tail + ")"
	}
	return cause
}

// tailBuffer keeps the last bytes a plugin wrote to stderr, skipping the
// structured log lines go-plugin already relays to the logger.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) lastLines(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(string(t.buf), "\n")
	// A Go panic prints its message first and then pages of stack; the
	// message is the part a person needs.
	for _, l := range lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return strings.TrimSpace(l)
		}
	}
	var keep []string
	for j := len(lines) - 1; j >= 0 && len(keep) < n; j-- {
		l := strings.TrimSpace(lines[j])
		if l == "" || strings.HasPrefix(l, "{") {
			continue
		}
		keep = append(keep, l)
	}
	slices.Reverse(keep)
	return strings.Join(keep, " | ")
}

// lineLogger logs what a plugin prints, one record per line.
type lineLogger struct {
	log    *slog.Logger
	level  slog.Level
	stream string
	mu     sync.Mutex
	buf    []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimSpace(string(l.buf[:i])); line != "" {
			l.log.Log(context.Background(), l.level, line, "stream", l.stream)
		}
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}
