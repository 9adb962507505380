package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Proc is a daemon started by this package: its own session and process group,
// SIGKILLed by the kernel if the starting thread dies (Pdeathsig), and stopped by
// PID at cleanup (SIGTERM to its group, SIGKILL after a grace period).
type Proc struct {
	Name string
	PID  int
	Log  string // file receiving stdout and stderr

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// procSpec describes how to start a daemon.
type procSpec struct {
	name     string   // label in messages ("named")
	bin      string   // executable looked up in PATH
	pkg      string   // Debian package providing bin
	args     []string //
	env      []string // extra environment (KEY=VALUE)
	dir      string   // working directory
	log      string   // log file path
	detached bool     // no Pdeathsig and no cleanup: for shared daemons that outlive us
	grace    time.Duration
}

// lookBin finds a binary or fails t naming the Debian package to install.
func lookBin(t TB, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("testenv: %s not found in PATH: install the Debian package %q (apt-get install %s, or make deps)", bin, pkg, pkg)
	}
	return p
}

func startProc(t TB, s procSpec) *Proc {
	t.Helper()
	path := lookBin(t, s.bin, s.pkg)
	if s.log == "" {
		s.log = filepath.Join(t.TempDir(), safeName(s.name, 40)+".log")
	}
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("testenv: open log for %s: %v", s.name, err)
	}
	cmd := exec.Command(path, s.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), s.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if !s.detached {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("testenv: start %s (%s %s): %v", s.name, path, strings.Join(s.args, " "), err)
	}
	p := &Proc{Name: s.name, PID: cmd.Process.Pid, Log: s.log, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Logf("testenv: started %s pid %d (log %s)", s.name, p.PID, s.log)
	if !s.detached {
		grace := s.grace
		if grace == 0 {
			grace = 5 * time.Second
		}
		t.Cleanup(func() { p.stop(t, grace) })
	}
	return p
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *Proc) stop(t TB, grace time.Duration) {
	if p.Exited() {
		return
	}
	_ = syscall.Kill(-p.PID, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		t.Logf("testenv: %s pid %d ignored SIGTERM for %s, sending SIGKILL", p.Name, p.PID, grace)
		_ = syscall.Kill(-p.PID, syscall.SIGKILL)
		<-p.done
	}
	// Children that left the group's leader behind (e.g. a daemon's helpers) go too.
	_ = syscall.Kill(-p.PID, syscall.SIGKILL)
}

// waitReady polls check every 50 ms until it returns nil, the process exits, or
// the timeout passes; on failure it fails t quoting the last lines of the log.
func (p *Proc) waitReady(t TB, timeout time.Duration, check func() error) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	var last error
	for {
		if last = check(); last == nil {
			t.Logf("testenv: %s ready after %s", p.Name, time.Since(start).Round(time.Millisecond))
			return
		}
		if p.Exited() {
			t.Fatalf("testenv: %s (pid %d) exited before it was ready (%v); last lines of %s:\n%s",
				p.Name, p.PID, p.err, p.Log, tailFile(p.Log, 25))
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: %s (pid %d) not ready after %s: %v; last lines of %s:\n%s",
				p.Name, p.PID, timeout, last, p.Log, tailFile(p.Log, 25))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tailFile returns the last n lines of a file, for error messages.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + string(bytes.Join(lines, []byte("\n    ")))
}

// commandTimeout bounds every short command (virsh, lxc, nsupdate...), so a hung
// tool fails the test instead of hanging it until the go test timeout.
const commandTimeout = 3 * time.Minute

// run executes a short command and returns its combined output, failing t with
// that output on error.
func run(t TB, env []string, bin, pkg string, args ...string) string {
	t.Helper()
	out, err := runErr(t, env, bin, pkg, args...)
	if err != nil {
		t.Fatalf("testenv: %s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(t TB, env []string, bin, pkg string, args ...string) (string, error) {
	t.Helper()
	path := lookBin(t, bin, pkg)
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (killed after %s)", err, commandTimeout)
	}
	return string(out), err
}
