package testenv

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMissingBinaryNamesDebianPackage(t *testing.T) {
	r := NewRunner(t.TempDir(), t.Logf)
	defer r.Close()
	err := r.Run(func() {
		startProc(r, procSpec{name: "ghost", bin: "vcr-no-such-daemon", pkg: "vcr-ghost-pkg", log: filepath.Join(r.TempDir(), "log")})
	})
	if err == nil || !strings.Contains(err.Error(), `install the Debian package "vcr-ghost-pkg"`) {
		t.Fatalf("error = %v, want one naming the Debian package", err)
	}
}

func TestDaemonExitQuotesLog(t *testing.T) {
	r := NewRunner(t.TempDir(), t.Logf)
	defer r.Close()
	err := r.Run(func() {
		p := startProc(r, procSpec{name: "dies", bin: "sh", pkg: "dash", log: filepath.Join(r.TempDir(), "log"),
			args: []string{"-c", "echo 'fatal: bad config line 3' >&2; exit 3"}})
		p.waitReady(r, 10*time.Second, func() error { return errors.New("not yet") })
	})
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "fatal: bad config line 3") {
		t.Fatalf("error = %v, want exit notice quoting the log", err)
	}
}

func TestReadinessDeadlineAndStopByPID(t *testing.T) {
	r := NewRunner(t.TempDir(), t.Logf)
	var p *Proc
	err := r.Run(func() {
		// A daemon that ignores SIGTERM: cleanup must SIGKILL it after the grace.
		p = startProc(r, procSpec{name: "stubborn", bin: "sh", pkg: "dash", log: filepath.Join(r.TempDir(), "log"),
			args: []string{"-c", "trap '' TERM; echo started; while :; do sleep 0.1; done"}, grace: 300 * time.Millisecond})
		p.waitReady(r, 300*time.Millisecond, func() error { return errors.New("port closed") })
	})
	if err == nil || !strings.Contains(err.Error(), "not ready after") || !strings.Contains(err.Error(), "port closed") || !strings.Contains(err.Error(), "started") {
		t.Fatalf("error = %v, want deadline error with last check error and log", err)
	}
	if p.Exited() {
		t.Fatalf("daemon exited before cleanup")
	}
	r.Close()
	if !p.Exited() {
		t.Fatalf("daemon pid %d still running after Close", p.PID)
	}
	// The loop's `sleep` children are SIGKILLed with the group; give their new
	// parent a moment to reap them.
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(-p.PID, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still has members 5s after Close", p.PID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartDaemonStopAndKill(t *testing.T) {
	r := NewRunner(t.TempDir(), t.Logf)
	defer r.Close()
	err := r.Run(func() {
		p := StartDaemon(r, DaemonSpec{Name: "echoer", Path: "sh", Args: []string{"-c", "echo up; exec sleep 60"}})
		p.WaitReady(r, 5*time.Second, func() error {
			if p.LogContains("up") {
				return nil
			}
			return errors.New("no output yet")
		})
		p.Stop(r, time.Second)
		if !p.Exited() {
			r.Fatalf("still running after Stop")
		}
		q := StartDaemon(r, DaemonSpec{Name: "crashme", Path: "sleep", Args: []string{"60"}})
		q.Kill()
		if !q.Wait(0) {
			r.Fatalf("still running after Kill")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFlockTimeoutNamesHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	holder, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if err := syscall.Flock(int(holder.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	waiter, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Close()
	err = flockTimeout(waiter, syscall.LOCK_SH, 100*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("flockTimeout = %v, want a timeout naming pid %d", err, os.Getpid())
	}
	_ = syscall.Flock(int(holder.Fd()), syscall.LOCK_UN)
	if err := flockTimeout(waiter, syscall.LOCK_SH, time.Second); err != nil {
		t.Fatalf("flockTimeout after release: %v", err)
	}
}
