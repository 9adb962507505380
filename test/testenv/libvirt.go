package testenv

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

const (
	// LibvirtSocket is libvirtd's read-write socket; it is global to the machine.
	LibvirtSocket  = "/run/libvirt/libvirt-sock"
	virtlogdSocket = "/run/libvirt/virtlogd-sock"
	libvirtdPID    = "/run/libvirtd.pid"
	// stateDir holds the locks that let overlapping test processes share one libvirtd.
	stateDir = "/run/vcrcovery-testenv"
)

// LibvirtEnv is the machine's libvirtd, started by Libvirt if it was not running.
type LibvirtEnv struct {
	Socket string // /run/libvirt/libvirt-sock
}

// shared libvirtd bookkeeping for this process.
var lv struct {
	mu       sync.Mutex
	users    int      // tests of this process currently using libvirtd
	useLock  *os.File // LOCK_SH held while users > 0, so other processes see us
	libvirtd *Proc    // non-nil if this process started libvirtd
	virtlogd *Proc    // non-nil if this process started virtlogd
	logDir   string   // where our daemons log
}

// Libvirt makes sure libvirtd and virtlogd answer, starting them if needed, and
// returns the shared daemon. libvirtd is global (/run/libvirt), so it is started
// detached (no Pdeathsig): another test process may be using it. At cleanup of the
// last test of this process that uses it, this process stops the daemons only if
// it started them and no other process holds the shared use lock.
func Libvirt(t TB) *LibvirtEnv {
	t.Helper()
	lv.mu.Lock()
	defer lv.mu.Unlock()
	if lv.users == 0 {
		if err := os.MkdirAll(stateDir, 0o755); err != nil {
			t.Fatalf("testenv: create %s: %v (tests need root)", stateDir, err)
		}
		f, err := os.OpenFile(filepath.Join(stateDir, "libvirt.use"), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			t.Fatalf("testenv: open libvirt use lock: %v", err)
		}
		// Waits while another process is stopping the daemon it started.
		if err := flockTimeout(f, syscall.LOCK_SH, 2*time.Minute); err != nil {
			f.Close()
			t.Fatalf("testenv: shared lock on %s: %v", f.Name(), err)
		}
		lv.useLock = f
	}
	lv.users++
	t.Cleanup(releaseLibvirt(t))
	ensureLibvirtdLocked(t)
	return &LibvirtEnv{Socket: LibvirtSocket}
}

func releaseLibvirt(t TB) func() {
	return func() {
		lv.mu.Lock()
		defer lv.mu.Unlock()
		lv.users--
		if lv.users > 0 {
			return
		}
		f := lv.useLock
		lv.useLock = nil
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			if lv.libvirtd != nil {
				t.Logf("testenv: another process still uses libvirtd; leaving pid %d running for it", lv.libvirtd.PID)
			}
			lv.libvirtd, lv.virtlogd = nil, nil
			return
		}
		stopShared(t)
	}
}

// stopShared stops the daemons this process started, and those another test
// process started but had to leave running because we were using them (lv.mu
// and the exclusive use lock held). A libvirtd the user started is never touched:
// only PIDs recorded in stateDir by this package are.
func stopShared(t TB) {
	if lv.libvirtd != nil {
		lv.libvirtd.stop(t, 15*time.Second)
		lv.libvirtd = nil
	} else {
		stopRecorded(t, "libvirtd", 15*time.Second)
	}
	if lv.virtlogd != nil {
		lv.virtlogd.stop(t, 5*time.Second)
		lv.virtlogd = nil
	} else {
		stopRecorded(t, "virtlogd", 5*time.Second)
	}
	_ = os.Remove(filepath.Join(stateDir, "libvirtd.pid"))
	_ = os.Remove(filepath.Join(stateDir, "virtlogd.pid"))
}

func recordPID(name string, pid int) {
	_ = os.WriteFile(filepath.Join(stateDir, name+".pid"), []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

// stopRecorded stops the daemon whose PID this package recorded, if it still runs.
func stopRecorded(t TB, name string, grace time.Duration) {
	b, err := os.ReadFile(filepath.Join(stateDir, name+".pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) != name {
		return
	}
	t.Logf("testenv: stopping %s pid %d left running by an earlier test process", name, pid)
	killAndWait(pid, grace)
}

// killAndWait sends SIGTERM to a process that is not our child, then SIGKILL
// after grace, and waits until it is gone.
func killAndWait(pid int, grace time.Duration) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for pidAlive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			deadline = time.Now().Add(time.Hour)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ensureLibvirtdLocked starts virtlogd and libvirtd unless they answer (lv.mu held).
func ensureLibvirtdLocked(t TB) {
	t.Helper()
	if libvirtAnswers() == nil && unixAnswers(virtlogdSocket) {
		return
	}
	// Serialise starts between processes; libvirtd's own pidfile lock would make
	// the loser exit with a less helpful message.
	sl, err := os.OpenFile(filepath.Join(stateDir, "libvirt.start"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("testenv: open libvirt start lock: %v", err)
	}
	defer sl.Close()
	if err := flockTimeout(sl, syscall.LOCK_EX, 2*time.Minute); err != nil {
		t.Fatalf("testenv: exclusive lock on %s: %v", sl.Name(), err)
	}
	defer syscall.Flock(int(sl.Fd()), syscall.LOCK_UN)
	// A fixed, appended-to log dir: the daemons may outlive this process.
	logDir := filepath.Join(os.TempDir(), "vcrcovery-testenv-libvirt")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatalf("testenv: create %s: %v", logDir, err)
	}
	for _, d := range []string{"/run/libvirt", "/var/log/libvirt/qemu", "/var/lib/libvirt/qemu", "/var/cache/libvirt/qemu"} {
		_ = os.MkdirAll(d, 0o755)
	}
	if !unixAnswers(virtlogdSocket) {
		p := startProc(t, procSpec{name: "virtlogd", bin: "virtlogd", pkg: "libvirt-daemon-system",
			log: filepath.Join(logDir, "virtlogd.log"), detached: true})
		p.waitReady(t, 20*time.Second, func() error {
			if unixAnswers(virtlogdSocket) {
				return nil
			}
			return fmt.Errorf("%s does not answer", virtlogdSocket)
		})
		lv.virtlogd = p
		recordPID("virtlogd", p.PID)
	}
	if libvirtAnswers() == nil {
		return
	}
	ensureQemuConfRoot(t)
	p := startProc(t, procSpec{name: "libvirtd", bin: "libvirtd", pkg: "libvirt-daemon-system",
		log: filepath.Join(logDir, "libvirtd.log"), detached: true})
	p.waitReady(t, 60*time.Second, libvirtAnswers)
	lv.libvirtd = p
	recordPID("libvirtd", p.PID)
}

func unixAnswers(path string) bool {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// libvirtAnswers opens and closes a test:///default connection through the daemon.
func libvirtAnswers() error {
	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(LibvirtSocket), dialers.WithLocalTimeout(2*time.Second)))
	if err := l.ConnectToURI(libvirt.TestDefault); err != nil {
		return fmt.Errorf("connect to %s: %w", LibvirtSocket, err)
	}
	_ = l.Disconnect()
	return nil
}

// Connect returns a go-libvirt connection to uri (e.g. "qemu:///system",
// "test:///default") through the daemon's socket, closed at cleanup.
func (l *LibvirtEnv) Connect(t TB, uri string) *libvirt.Libvirt {
	t.Helper()
	c := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(l.Socket), dialers.WithLocalTimeout(5*time.Second)))
	if err := c.ConnectToURI(libvirt.ConnectURI(uri)); err != nil {
		t.Fatalf("testenv: connect to %s via %s: %v (is libvirtd running? see Libvirt)", uri, l.Socket, err)
	}
	t.Cleanup(func() { _ = c.Disconnect() })
	return c
}

// Virsh runs `virsh -c uri args...` and returns its output, failing t with the
// output on error. Use "test+unix:///default" or "qemu:///system" as uri.
func (l *LibvirtEnv) Virsh(t TB, uri string, args ...string) string {
	t.Helper()
	return run(t, nil, "virsh", "libvirt-clients", append([]string{"-c", uri}, args...)...)
}

// StopDaemon stops libvirtd (whoever started it, by the PID in /run/libvirtd.pid)
// and waits until it has exited, for tests of behaviour while libvirtd is down.
// Running QEMU domains survive it. StartDaemon brings it back.
func (l *LibvirtEnv) StopDaemon(t TB) {
	t.Helper()
	lv.mu.Lock()
	defer lv.mu.Unlock()
	if lv.libvirtd != nil {
		lv.libvirtd.stop(t, 15*time.Second)
		lv.libvirtd = nil
		return
	}
	b, err := os.ReadFile(libvirtdPID)
	if err != nil {
		t.Fatalf("testenv: read %s: %v (is libvirtd running?)", libvirtdPID, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Fatalf("testenv: bad pid in %s: %q", libvirtdPID, b)
	}
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) != "libvirtd" {
		t.Fatalf("testenv: pid %d from %s is not libvirtd (%q); not killing it", pid, libvirtdPID, comm)
	}
	killAndWait(pid, 15*time.Second)
}

// StartDaemon starts libvirtd again after StopDaemon (this process then owns it).
func (l *LibvirtEnv) StartDaemon(t TB) {
	t.Helper()
	lv.mu.Lock()
	defer lv.mu.Unlock()
	ensureLibvirtdLocked(t)
}

// flockTimeout takes a flock, giving up after timeout with the PIDs holding it,
// so a stuck holder fails tests with a lead instead of hanging them.
func flockTimeout(f *os.File, how int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if err != syscall.EWOULDBLOCK {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still held after %s by pid(s) %s: find out what they wait for", timeout, lockHolders(f))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockHolders lists the PIDs holding flocks on f's inode, from /proc/locks.
func lockHolders(f *os.File) string {
	st, err := f.Stat()
	if err != nil {
		return "?"
	}
	ino := strconv.FormatUint(st.Sys().(*syscall.Stat_t).Ino, 10)
	b, _ := os.ReadFile("/proc/locks")
	var pids []string
	for _, line := range strings.Split(string(b), "\n") {
		fs := strings.Fields(line)
		// "1: FLOCK ADVISORY READ 1234 fe:00:9773060 0 EOF"
		if len(fs) >= 6 && fs[1] == "FLOCK" && strings.HasSuffix(fs[5], ":"+ino) {
			pids = append(pids, fs[4])
		}
	}
	if len(pids) == 0 {
		return "(none listed)"
	}
	return strings.Join(pids, ", ")
}
