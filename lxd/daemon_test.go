package lxd_test

// A test-only helper that runs real LXD daemons, one pair per test binary,
// shared by all integration tests and benchmarks of this package.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
)

// daemon is one running LXD, reachable by socket and HTTPS.
type daemon struct {
	Dir, Socket, URL      string
	ClientCert, ClientKey string
	ServerCert            string
	Address               string // loopback address its proxy devices listen on
	cmd                   *exec.Cmd
	done                  chan struct{}
	logFile               string
}

var (
	pairOnce sync.Once
	pairA    *daemon
	pairB    *daemon
	pairErr  error
	pairRoot string
)

// testPair returns the shared two daemons (standby at 127.0.0.2, "bigger
// VM" at 127.0.0.3), starting them on first use. Integration tests skip
// under -short and when not root.
func testPair(tb testing.TB) (*daemon, *daemon) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("integration test: needs real LXD daemons (skipped with -short)")
	}
	if os.Geteuid() != 0 {
		tb.Skip("integration test: needs root to run LXD")
	}
	if _, err := exec.LookPath("lxd"); err != nil {
		tb.Skip("lxd not installed (make deps)")
	}
	pairOnce.Do(func() {
		pairRoot, pairErr = os.MkdirTemp("", "vcr-lxd-test-")
		if pairErr != nil {
			return
		}
		// Unprivileged containers must traverse the path to their rootfs.
		if pairErr = os.Chmod(pairRoot, 0o755); pairErr != nil {
			return
		}
		if pairErr = makeClientCert(pairRoot); pairErr != nil {
			return
		}
		var img string
		if img, pairErr = buildBusyboxImage(pairRoot); pairErr != nil {
			return
		}
		var wg sync.WaitGroup
		var errA, errB error
		wg.Add(2)
		go func() { defer wg.Done(); pairA, errA = startDaemon(pairRoot, "a", "127.0.0.2", img) }()
		go func() { defer wg.Done(); pairB, errB = startDaemon(pairRoot, "b", "127.0.0.3", img) }()
		wg.Wait()
		if errA != nil {
			pairErr = errA
		} else {
			pairErr = errB
		}
	})
	if pairErr != nil {
		tb.Fatalf("start LXD pair: %v", pairErr)
	}
	return pairA, pairB
}

// stopPair runs from TestMain after all tests.
func stopPair() {
	for _, d := range []*daemon{pairA, pairB} {
		if d != nil {
			d.stop()
		}
	}
	if pairRoot != "" {
		os.RemoveAll(pairRoot)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopPair()
	os.Exit(code)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startDaemon(root, name, addr, image string) (*daemon, error) {
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	d := &daemon{
		Dir: dir, Socket: filepath.Join(dir, "unix.socket"), URL: fmt.Sprintf("https://127.0.0.1:%d", port),
		ClientCert: filepath.Join(root, "client.crt"), ClientKey: filepath.Join(root, "client.key"),
		ServerCert: filepath.Join(dir, "server.crt"), Address: addr,
		logFile: filepath.Join(root, name+".log"), done: make(chan struct{}),
	}
	d.cmd = exec.Command("lxd", "--group", "root", "--logfile", d.logFile)
	d.cmd.Env = append(os.Environ(), "LXD_DIR="+dir)
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start lxd: %w", err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	fail := func(err error) (*daemon, error) {
		d.stop()
		log, _ := os.ReadFile(d.logFile)
		return nil, fmt.Errorf("lxd %s: %w\nlog:\n%s", name, err, tail(log))
	}
	if out, err := d.run(nil, "lxd", "waitready", "--timeout", "30"); err != nil {
		return fail(fmt.Errorf("waitready: %v: %s", err, out))
	}
	preseed := fmt.Sprintf(`config:
  core.https_address: 127.0.0.1:%d
storage_pools:
- name: default
  driver: dir
profiles:
- name: default
  devices:
    root:
      path: /
      pool: default
      type: disk
`, port)
	if out, err := d.run([]byte(preseed), "lxd", "init", "--preseed"); err != nil {
		return fail(fmt.Errorf("init: %v: %s", err, out))
	}
	if out, err := d.run(nil, "lxc", "config", "trust", "add", d.ClientCert); err != nil {
		return fail(fmt.Errorf("trust client: %v: %s", err, out))
	}
	if out, err := d.run(nil, "lxc", "image", "import", image, "--alias", "busybox"); err != nil {
		return fail(fmt.Errorf("import image: %v: %s", err, out))
	}
	return d, nil
}

func tail(b []byte) string {
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

func (d *daemon) run(stdin []byte, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "LXD_DIR="+d.Dir)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	return cmd.CombinedOutput()
}

// stop force-stops every instance (busybox init ignores the shutdown
// signal, and `lxd shutdown` would wait for it), shuts the daemon down and
// kills it by PID if it lingers.
func (d *daemon) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	if out, err := d.run(nil, "lxc", "list", "--format", "csv", "-c", "n"); err == nil {
		for _, n := range strings.Fields(string(out)) {
			d.run(nil, "lxc", "stop", "--force", n)
		}
	}
	d.run(nil, "lxd", "shutdown", "--timeout", "15")
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
	}
	// LXD leaves a few mounts under its directory; unmount them so the
	// directory can be removed.
	if mounts, err := os.ReadFile("/proc/self/mounts"); err == nil {
		var under []string
		for _, line := range strings.Split(string(mounts), "\n") {
			f := strings.Fields(line)
			if len(f) > 1 && strings.HasPrefix(f[1], d.Dir+"/") {
				under = append(under, f[1])
			}
		}
		for i := len(under) - 1; i >= 0; i-- {
			syscall.Unmount(under[i], syscall.MNT_DETACH)
		}
	}
}

func (d *daemon) socketClient(tb testing.TB) *lxd.Client {
	tb.Helper()
	c, err := lxd.Connect(context.Background(), lxd.Config{Socket: d.Socket})
	if err != nil {
		tb.Fatalf("connect to %s: %v", d.Socket, err)
	}
	return c
}

func (d *daemon) httpsClient(tb testing.TB) *lxd.Client {
	tb.Helper()
	c, err := lxd.Connect(context.Background(), lxd.Config{URL: d.URL, ClientCert: d.ClientCert, ClientKey: d.ClientKey, ServerCert: d.ServerCert})
	if err != nil {
		tb.Fatalf("connect to %s: %v", d.URL, err)
	}
	return c
}

// rootfs is the instance's root filesystem on the host (dir pool).
func (d *daemon) rootfs(instance string) string {
	return filepath.Join(d.Dir, "storage-pools", "default", "containers", instance, "rootfs")
}

func makeClientCert(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "vcr-lxd-test"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "client.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "client.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}

// buildBusyboxImage makes the unified image tarball of DESIGN.md: busybox
// with its applets, an inittab that brings lo up and respawns httpd on
// 127.0.0.1:8080 serving /var/www.
func buildBusyboxImage(root string) (string, error) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return "", fmt.Errorf("busybox-static not installed (make deps): %w", err)
	}
	img := filepath.Join(root, "image")
	rfs := filepath.Join(img, "rootfs")
	for _, d := range []string{"bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root", "var/www"} {
		if err := os.MkdirAll(filepath.Join(rfs, d), 0o755); err != nil {
			return "", err
		}
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(rfs, "bin/busybox"), data, 0o755); err != nil {
		return "", err
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return "", fmt.Errorf("busybox --list: %w", err)
	}
	for _, a := range strings.Fields(string(list)) {
		if a != "busybox" {
			os.Symlink("/bin/busybox", filepath.Join(rfs, "bin", a))
		}
	}
	os.Symlink("/bin/busybox", filepath.Join(rfs, "sbin/init"))
	files := map[string]string{
		"rootfs/etc/inittab": "::sysinit:/bin/mount -t proc proc /proc\n::sysinit:/bin/ip link set lo up\n" +
			"::respawn:/bin/httpd -f -p 127.0.0.1:8080 -h /var/www\n",
		"rootfs/var/www/index.html": "hello from busybox\n",
		"metadata.yaml": fmt.Sprintf("architecture: x86_64\ncreation_date: %d\nproperties:\n  description: busybox httpd\n  os: busybox\n  release: \"1\"\n",
			time.Now().Unix()),
	}
	for p, s := range files {
		if err := os.WriteFile(filepath.Join(img, p), []byte(s), 0o644); err != nil {
			return "", err
		}
	}
	out := filepath.Join(root, "busybox.tar.gz")
	if b, err := exec.Command("tar", "-C", img, "-czf", out, "metadata.yaml", "rootfs").CombinedOutput(); err != nil {
		return "", fmt.Errorf("tar image: %v: %s", err, b)
	}
	return out, nil
}
