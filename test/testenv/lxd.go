package testenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// LXDOptions configures StartLXD.
type LXDOptions struct {
	Name    string // label for logs and messages ("standby", "bigvm"); default "lxd"
	Address string // the loopback address this "VM" owns, e.g. 127.0.0.2; default 127.0.0.2
	NoImage bool   // skip importing the busybox image
}

// LXD is one LXD daemon with its own LXD_DIR, a dir storage pool named
// "default", no network, and HTTPS on 127.0.0.1:<port> trusting ClientCert.
type LXD struct {
	Name       string
	Dir        string // LXD_DIR
	Socket     string // Dir/unix.socket
	URL        string // https://127.0.0.1:<port>
	ClientCert string // PEM file, trusted by the daemon
	ClientKey  string // PEM file
	ServerCert string // PEM file (Dir/server.crt), for pinning the daemon's certificate
	Address    string // loopback address services of this "VM" listen on
	Proc       *Proc
}

// StartLXD starts an LXD daemon in a temp dir, initialises it (dir pool, no
// network, HTTPS address), trusts a generated client certificate and imports the
// busybox image as alias "busybox" (unless NoImage). Instances are force-stopped
// and the daemon shut down at cleanup.
func StartLXD(t TB, opts LXDOptions) *LXD {
	t.Helper()
	lookBin(t, "lxc", "lxd-client")
	base := t.TempDir()
	// Unprivileged containers (shifted uids) must traverse every directory
	// above their rootfs; t.TempDir makes 0700 dirs.
	for d := base; d != "/" && d != filepath.Clean(os.TempDir()); d = filepath.Dir(d) {
		if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o011 != 0o011 {
			_ = os.Chmod(d, st.Mode().Perm()|0o011)
		}
	}
	x := &LXD{
		Name:    orDefault(opts.Name, "lxd"),
		Dir:     filepath.Join(base, "lxd"),
		Address: orDefault(opts.Address, "127.0.0.2"),
	}
	if ip := net.ParseIP(x.Address); ip == nil || !ip.IsLoopback() {
		t.Fatalf("testenv: StartLXD: Address %q is not a loopback address: use 127.0.0.X", x.Address)
	}
	x.Socket = filepath.Join(x.Dir, "unix.socket")
	x.ServerCert = filepath.Join(x.Dir, "server.crt")
	if err := os.MkdirAll(x.Dir, 0o711); err != nil {
		t.Fatalf("testenv: create LXD_DIR: %v", err)
	}
	// Runs after the daemon is gone: LXD mounts tmpfs on Dir/devlxd and
	// Dir/shmounts, and a killed daemon leaves them behind, which would make the
	// temp dir's removal fail.
	t.Cleanup(func() { unmountUnder(t, x.Dir) })
	port := FreePort(t)
	x.URL = "https://127.0.0.1:" + strconv.Itoa(port)
	x.Proc = startProc(t, procSpec{name: "lxd " + x.Name, bin: "lxd", pkg: "lxd",
		log: filepath.Join(base, "lxd.log"), env: []string{"LXD_DIR=" + x.Dir},
		args: []string{"--group", "root"}, grace: 20 * time.Second})
	t.Cleanup(func() { x.shutdown(t) })
	unix := unixHTTPClient(x.Socket)
	x.Proc.waitReady(t, 60*time.Second, func() error {
		resp, err := unix.Get("http://lxd/1.0")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /1.0: %s", resp.Status)
		}
		return nil
	})
	preseed := fmt.Sprintf(`config:
  core.https_address: 127.0.0.1:%d
  images.auto_update_interval: "0"
networks: []
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
	x.run(t, strings.NewReader(preseed), "lxd", "lxd", "init", "--preseed")

	x.ClientCert, x.ClientKey = filepath.Join(base, "client.crt"), filepath.Join(base, "client.key")
	writeClientCert(t, x.ClientCert, x.ClientKey, "vcrcovery-testenv-"+x.Name)
	x.Lxc(t, "config", "trust", "add", x.ClientCert)
	if !opts.NoImage {
		meta, rootfs := BusyboxImage(t)
		x.Lxc(t, "image", "import", meta, rootfs, "--alias", "busybox")
	}
	t.Logf("testenv: LXD %s ready: LXD_DIR=%s URL=%s address=%s", x.Name, x.Dir, x.URL, x.Address)
	return x
}

// Lxc runs the lxc CLI against this daemon (LXD_DIR=Dir) and returns its output.
func (x *LXD) Lxc(t TB, args ...string) string {
	t.Helper()
	return x.run(t, nil, "lxc", "lxd-client", args...)
}

// LxcErr is Lxc that returns the error instead of failing t.
func (x *LXD) LxcErr(t TB, args ...string) (string, error) {
	t.Helper()
	return runErr(t, []string{"LXD_DIR=" + x.Dir}, "lxc", "lxd-client", args...)
}

func (x *LXD) run(t TB, stdin io.Reader, bin, pkg string, args ...string) string {
	t.Helper()
	path := lookBin(t, bin, pkg)
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "LXD_DIR="+x.Dir)
	cmd.Stdin = stdin
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: LXD %s: %s %s: %v\n%s\nlast lines of %s:\n%s", x.Name, bin, strings.Join(args, " "), err, out, x.Proc.Log, tailFile(x.Proc.Log, 15))
	}
	return string(out)
}

// LaunchService creates a busybox container named name whose page is "name\n",
// with a proxy device listen=tcp:<Address>:<port> connect=tcp:127.0.0.1:8080,
// starts it, waits until HTTP answers and returns "Address:port".
func (x *LXD) LaunchService(t TB, name string, port int) string {
	t.Helper()
	addr := net.JoinHostPort(x.Address, strconv.Itoa(port))
	x.Lxc(t, "init", "busybox", name)
	x.Lxc(t, "config", "device", "add", name, "web", "proxy",
		"listen=tcp:"+addr, "connect=tcp:127.0.0.1:8080")
	page := filepath.Join(t.TempDir(), "index.html")
	if err := os.WriteFile(page, []byte(name+"\n"), 0o644); err != nil {
		t.Fatalf("testenv: write page: %v", err)
	}
	x.Lxc(t, "file", "push", page, name+"/var/www/index.html")
	diag := func() string {
		out, _ := x.LxcErr(t, "info", name, "--show-log")
		return fmt.Sprintf("lxc info %s --show-log:\n%s\nlast lines of %s:\n%s", name, out, x.Proc.Log, tailFile(x.Proc.Log, 10))
	}
	if out, err := x.LxcErr(t, "start", name); err != nil {
		t.Fatalf("testenv: LXD %s: lxc start %s: %v\n%s\n%s", x.Name, name, err, out, diag())
	}
	WaitHTTP(t, "http://"+addr+"/", 30*time.Second, diag)
	return addr
}

// shutdown force-stops every instance (busybox init ignores SIGPWR, and `lxd
// shutdown` would wait for them), then asks the daemon to shut down.
func (x *LXD) shutdown(t TB) {
	if x.Proc.Exited() {
		x.reapOrphans(t)
		return
	}
	if out, err := x.LxcErr(t, "stop", "--all", "--force"); err != nil && !strings.Contains(out, "no instances") {
		t.Logf("testenv: LXD %s: force-stop instances: %v: %s", x.Name, err, strings.TrimSpace(out))
	}
	if out, err := runErr(t, []string{"LXD_DIR=" + x.Dir}, "lxd", "lxd", "shutdown", "--timeout", "30"); err != nil {
		t.Logf("testenv: LXD %s: lxd shutdown: %v: %s (will signal it)", x.Name, err, strings.TrimSpace(out))
	}
	select {
	case <-x.Proc.done:
	case <-time.After(10 * time.Second):
	}
}

// unmountUnder lazily unmounts every mount point below dir, deepest first.
func unmountUnder(t TB, dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var mps []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			mp := unescapeMount(fields[4])
			if strings.HasPrefix(mp, dir+"/") {
				mps = append(mps, mp)
			}
		}
	}
	sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	for _, mp := range mps {
		if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil {
			t.Logf("testenv: unmount %s: %v", mp, err)
		}
	}
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

func unixHTTPClient(sock string) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
}

// writeClientCert writes a self-signed ECDSA P-384 client certificate and key.
func writeClientCert(t TB, certPath, keyPath, cn string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatalf("testenv: generate client key: %v", err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("testenv: create client certificate: %v", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("testenv: marshal client key: %v", err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatalf("testenv: write client cert: %v", err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatalf("testenv: write client key: %v", err)
	}
}

// reapOrphans handles a daemon that died (a test killed it) while its
// containers ran: their liblxc monitors and proxies outlive it. Starting the
// daemon again on the same LXD_DIR makes it re-attach them, so they can be
// stopped the normal way.
func (x *LXD) reapOrphans(t TB) {
	if !x.hasRunningContainers() {
		return
	}
	t.Logf("testenv: LXD %s died with containers running; restarting it to stop them", x.Name)
	cmd := exec.Command("lxd", "--group", "root")
	cmd.Env = append(os.Environ(), "LXD_DIR="+x.Dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Logf("testenv: LXD %s: restart to reap containers: %v", x.Name, err)
		return
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	defer func() {
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}()
	unix := unixHTTPClient(x.Socket)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := unix.Get("http://lxd/1.0"); err == nil {
			resp.Body.Close()
			break
		}
	}
	if out, err := x.LxcErr(t, "stop", "--all", "--force"); err != nil {
		t.Logf("testenv: LXD %s: force-stop re-attached instances: %v: %s", x.Name, err, strings.TrimSpace(out))
	}
	_, _ = runErr(t, []string{"LXD_DIR=" + x.Dir}, "lxd", "lxd", "shutdown", "--timeout", "15")
}

// hasRunningContainers reports whether a liblxc monitor of this daemon's
// containers is alive ("[lxc monitor] <LXD_DIR>/containers <name>").
func (x *LXD) hasRunningContainers() bool {
	prefix := []byte("[lxc monitor] " + filepath.Join(x.Dir, "containers") + " ")
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err == nil && bytes.HasPrefix(cmdline, prefix) {
			return true
		}
	}
	return false
}
