package testenv

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// DaemonSpec starts one of the project's own daemons (or any program) under
// the same rules as the package's components: its own process group, killed
// with the test, stopped by PID at cleanup.
type DaemonSpec struct {
	Name  string   // label in logs and messages
	Path  string   // executable, e.g. Binary(t, "vcr-receiver")
	Args  []string //
	Env   []string // extra KEY=VALUE
	Dir   string   // working directory; default: a temp dir
	Log   string   // output file; default: <temp dir>/<Name>.log
	Ready func() error
	// ReadyTimeout bounds the wait for Ready; default 30 s.
	ReadyTimeout time.Duration
}

// StartDaemon starts spec and waits until spec.Ready returns nil (if set).
func StartDaemon(t TB, spec DaemonSpec) *Proc {
	t.Helper()
	if spec.Dir == "" {
		spec.Dir = t.TempDir()
	}
	if spec.Log == "" {
		spec.Log = filepath.Join(spec.Dir, safeName(spec.Name, 40)+".log")
	}
	p := startProc(t, procSpec{name: spec.Name, bin: spec.Path, pkg: "(built by make build)", args: spec.Args,
		env: spec.Env, dir: spec.Dir, log: spec.Log})
	if spec.Ready != nil {
		timeout := spec.ReadyTimeout
		if timeout == 0 {
			timeout = 30 * time.Second
		}
		p.waitReady(t, timeout, spec.Ready)
	}
	return p
}

// Kill sends SIGKILL to the process group and waits for the process to exit:
// the "crash" of crash-safety tests.
func (p *Proc) Kill() {
	if p.Exited() {
		return
	}
	_ = syscall.Kill(-p.PID, syscall.SIGKILL)
	<-p.done
}

// Signal sends sig to the process (not its group), e.g. SIGHUP or SIGSTOP.
func (p *Proc) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return fmt.Errorf("%s (pid %d) already exited", p.Name, p.PID)
	}
	return syscall.Kill(p.PID, sig)
}

// Stop sends SIGTERM and waits up to grace before SIGKILL.
func (p *Proc) Stop(t TB, grace time.Duration) { p.stop(t, grace) }

// Wait blocks until the process exits or timeout passes, reporting whether it exited.
func (p *Proc) Wait(timeout time.Duration) bool {
	// Checked first: with both channels ready, select would pick at random.
	if p.Exited() {
		return true
	}
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Tail returns the last n lines of the process's log.
func (p *Proc) Tail(n int) string { return tailFile(p.Log, n) }

// LogContains reports whether the process's log holds s, for tests that wait
// for a line.
func (p *Proc) LogContains(s string) bool {
	b, err := os.ReadFile(p.Log)
	return err == nil && containsBytes(b, s)
}

func containsBytes(b []byte, s string) bool {
	return bytes.Contains(b, []byte(s))
}
