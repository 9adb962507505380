// Package testenv starts real components (libvirtd, LXD, BIND9 named, Prometheus,
// Alertmanager, QEMU VMs) on loopback for integration tests, e2e tests and the demo,
// and stops every process it started, by PID, when the test (or Runner) cleans up.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// TB is the subset of testing.TB used here, so the demo (not a test) can pass its
// own implementation (see NewRunner).
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
	Name() string
}

// FatalError is the panic value of Runner.Fatalf; Runner.Run turns it back into an error.
type FatalError struct{ Msg string }

func (e *FatalError) Error() string { return e.Msg }

// Runner is a TB for code that is not a test (the demo). Fatalf panics with a
// *FatalError; wrap work in Run to get it back as an error. Close runs the
// registered cleanups in reverse order, like the testing package does.
type Runner struct {
	dir  string
	logf func(string, ...any)

	mu       sync.Mutex
	cleanups []func()
	tmpSeq   int
}

// NewRunner returns a Runner whose temporary directories live under dir (created if
// needed) and whose log lines go to logf (nil means stderr).
func NewRunner(dir string, logf func(string, ...any)) *Runner {
	if logf == nil {
		logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
	}
	return &Runner{dir: dir, logf: logf}
}

func (r *Runner) Helper()                    {}
func (r *Runner) Name() string               { return "runner-" + filepath.Base(r.dir) }
func (r *Runner) Logf(f string, args ...any) { r.logf(f, args...) }

// Fatalf logs the message and panics with a *FatalError.
func (r *Runner) Fatalf(f string, args ...any) {
	msg := fmt.Sprintf(f, args...)
	r.logf("FATAL: %s", msg)
	panic(&FatalError{Msg: msg})
}

// Cleanup registers f to run at Close, after cleanups registered later.
func (r *Runner) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// TempDir returns a new directory under the Runner's dir; Close removes it.
func (r *Runner) TempDir() string {
	r.mu.Lock()
	r.tmpSeq++
	n := r.tmpSeq
	r.mu.Unlock()
	d := filepath.Join(r.dir, fmt.Sprintf("%03d", n))
	if err := os.MkdirAll(d, 0o755); err != nil {
		r.Fatalf("testenv: create temp dir: %v (check that %s is writable)", err, r.dir)
	}
	r.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

// Run calls f and returns the error of a Fatalf raised inside it (other panics propagate).
func (r *Runner) Run(f func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			var fe *FatalError
			if e, ok := v.(error); ok && errors.As(e, &fe) {
				err = fe
				return
			}
			panic(v)
		}
	}()
	f()
	return nil
}

// Close runs the cleanups in reverse order of registration. A cleanup that calls
// Fatalf does not stop the others. Close is idempotent.
func (r *Runner) Close() {
	for {
		r.mu.Lock()
		if len(r.cleanups) == 0 {
			r.mu.Unlock()
			return
		}
		f := r.cleanups[len(r.cleanups)-1]
		r.cleanups = r.cleanups[:len(r.cleanups)-1]
		r.mu.Unlock()
		if err := r.Run(f); err != nil {
			r.logf("cleanup failed: %v", err)
		}
	}
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9-]+`)

// safeName turns a test name into something usable in domain, container and file names.
func safeName(s string, max int) string {
	s = strings.Trim(unsafeName.ReplaceAllString(s, "-"), "-")
	if len(s) > max {
		s = s[len(s)-max:]
		s = strings.TrimLeft(s, "-")
	}
	if s == "" {
		s = "t"
	}
	return strings.ToLower(s)
}
