package lxd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// servicePort hands out a fresh listen address on ip for a proxy device,
// so tests sharing a daemon never collide.
func servicePort(tb testing.TB, ip string) string {
	tb.Helper()
	for range 20 {
		// FreePort probes 127.0.0.1; check the port is free on ip too.
		addr := net.JoinHostPort(ip, fmt.Sprint(testenv.FreePort(tb)))
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			return addr
		}
	}
	tb.Fatalf("no free port on %s", ip)
	return ""
}

// fetch GETs http://addr/ until it answers or the deadline passes.
func fetch(addr string, within time.Duration) (string, error) {
	deadline := time.Now().Add(within)
	hc := &http.Client{Timeout: time.Second}
	var last error
	for {
		resp, err := hc.Get("http://" + addr + "/")
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == 200 {
				return string(b), nil
			}
			last = fmt.Errorf("status %d, %v", resp.StatusCode, rerr)
		} else {
			last = err
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("http://%s/ did not answer within %s: %w", addr, within, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ctxT(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// launch creates and starts a busybox container with a proxy device "http"
// listening on listen, and removes it when the test ends.
func launch(tb testing.TB, c *lxd.Client, name, listen string) {
	tb.Helper()
	ctx := ctxT(tb, time.Minute)
	err := c.CreateInstance(ctx, lxd.CreateInstanceRequest{
		Name: name, Image: "busybox", Start: true,
		Devices: map[string]map[string]string{"http": lxd.ProxyDevice(listen, "tcp:127.0.0.1:8080")},
	})
	if err != nil {
		tb.Fatalf("launch %s: %v", name, err)
	}
	tb.Cleanup(func() { remove(c, name) })
}

func remove(c *lxd.Client, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = c.StopInstance(ctx, name, 0)
	_ = c.DeleteInstance(ctx, name)
}

func TestIntegrationConnect(t *testing.T) {
	a, b := testPair(t)
	ctx := ctxT(t, 30*time.Second)
	for _, c := range []*lxd.Client{socketClient(t, a), httpsClient(t, a)} {
		srv := c.Server()
		if srv.Auth != "trusted" || !strings.HasPrefix(srv.Environment.ServerVersion, "5.") {
			t.Errorf("%s: auth %q version %q, want trusted 5.x", c.Target(), srv.Auth, srv.Environment.ServerVersion)
		}
		if !srv.HasExtension("container_backup_override_pool") || srv.HasExtension("no-such-extension") {
			t.Errorf("%s: api_extensions look wrong: %d entries", c.Target(), len(srv.APIExtensions))
		}
		if !strings.Contains(srv.Environment.Certificate, "BEGIN CERTIFICATE") {
			t.Errorf("%s: no server certificate in environment", c.Target())
		}
	}
	// Pinning: daemon b's certificate is a valid LXD certificate, but not a's.
	_, err := lxd.Connect(ctx, lxd.Config{URL: a.URL, ClientCert: a.ClientCert, ClientKey: a.ClientKey, ServerCert: b.ServerCert})
	if err == nil || !strings.Contains(err.Error(), "pinned") {
		t.Errorf("connect with the wrong pinned certificate: err = %v, want a pinning error", err)
	}
	// A client certificate the daemon does not trust is told so.
	dir := t.TempDir()
	if err := makeClientCert(dir); err != nil {
		t.Fatal(err)
	}
	_, err = lxd.Connect(ctx, lxd.Config{URL: a.URL, ClientCert: filepath.Join(dir, "client.crt"), ClientKey: filepath.Join(dir, "client.key"), ServerCert: a.ServerCert})
	if err == nil || !strings.Contains(err.Error(), "trust") {
		t.Errorf("connect with an untrusted client certificate: err = %v, want a trust error", err)
	}
	_, err = lxd.Connect(ctx, lxd.Config{Socket: filepath.Join(dir, "no.socket")})
	if err == nil {
		t.Error("connect to a missing socket succeeded")
	}
}

func TestIntegrationLifecycle(t *testing.T) {
	a, _ := testPair(t)
	c := httpsClient(t, a)
	ctx := ctxT(t, 2*time.Minute)
	listen := servicePort(t, a.Address)
	launch(t, c, "life", listen)

	if body, err := fetch(listen, 10*time.Second); err != nil || !strings.Contains(body, "busybox httpd") {
		t.Fatalf("service through proxy: %q, %v", body, err)
	}
	st, err := c.GetInstanceState(ctx, "life")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Running() || st.CPU.Usage <= 0 || st.Memory.Usage <= 0 || st.PID <= 0 {
		t.Errorf("state = %+v, want running with CPU, memory and a PID", st)
	}
	list, err := c.ListInstances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, i := range list {
		found = found || (i.Name == "life" && i.Status == "Running")
	}
	if !found {
		t.Errorf("ListInstances = %+v, want life running", list)
	}

	// Move the proxy to another address: the old one stops answering.
	inst, etag, err := c.GetInstance(ctx, "life")
	if err != nil || etag == "" {
		t.Fatalf("GetInstance: etag %q, %v", etag, err)
	}
	if got, _ := inst.ProxyListen("http"); got != "tcp:"+listen {
		t.Errorf("ProxyListen = %q, want tcp:%s", got, listen)
	}
	listen2 := servicePort(t, a.Address)
	if err := c.SetDevice(ctx, "life", "http", lxd.ProxyDevice(listen2, "tcp:127.0.0.1:8080")); err != nil {
		t.Fatal(err)
	}
	if _, err := fetch(listen2, 10*time.Second); err != nil {
		t.Errorf("after SetDevice: %v", err)
	}
	if _, err := fetch(listen, 0); err == nil {
		t.Errorf("old listen address %s still answers", listen)
	}
	// A stale ETag is refused with 412.
	err = c.UpdateInstance(ctx, "life", inst.Writable(), etag)
	var le *lxd.Error
	if !errors.As(err, &le) || le.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("update with stale etag: %v, want 412", err)
	}
	// PATCH sets a config key and keeps the devices.
	if err := c.PatchInstance(ctx, "life", lxd.InstancePut{Config: map[string]string{"user.vcr": "yes"}}, ""); err != nil {
		t.Fatal(err)
	}
	inst, _, _ = c.GetInstance(ctx, "life")
	if inst.Config["user.vcr"] != "yes" || inst.Devices["http"]["listen"] != "tcp:"+listen2 {
		t.Errorf("after patch: config %v devices %v", inst.Config, inst.Devices)
	}

	// busybox init ignores the shutdown signal: graceful stop times out,
	// then the force stop must happen.
	start := time.Now()
	if err := c.StopInstance(ctx, "life", time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	t.Logf("graceful-then-force stop took %s", time.Since(start).Round(time.Millisecond))
	if st, _ := c.GetInstanceState(ctx, "life"); st == nil || st.StatusCode != lxd.StatusStopped {
		t.Errorf("after stop: %+v", st)
	}
	if err := c.StopInstance(ctx, "life", 0); err != nil {
		t.Errorf("stopping a stopped instance: %v", err)
	}
	// Ready as soon as the service answers, not when LXD's start operation
	// (with its one-second proxy poll) ends.
	start = time.Now()
	if err := c.StartInstanceReady(ctx, "life", lxd.HTTPProbe("http://"+listen2+"/"), 0); err != nil {
		t.Fatal(err)
	}
	t.Logf("StartInstanceReady: service answered after %s", time.Since(start).Round(time.Millisecond))
	if body, err := fetch(listen2, 0); err != nil || !strings.Contains(body, "busybox httpd") {
		t.Errorf("right after StartInstanceReady: %q, %v", body, err)
	}
	if err := c.RestartInstance(ctx, "life", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := fetch(listen2, 10*time.Second); err != nil {
		t.Errorf("after restart: %v", err)
	}

	// Errors: a running instance cannot be deleted, a name cannot be taken twice.
	if err := c.DeleteInstance(ctx, "life"); err == nil {
		t.Error("deleting a running instance succeeded")
	}
	err = c.CreateInstance(ctx, lxd.CreateInstanceRequest{Name: "life", Image: "busybox"})
	if !errors.Is(err, lxd.ErrAlreadyExists) {
		t.Errorf("create duplicate: %v, want ErrAlreadyExists", err)
	}
	if err := c.StopInstance(ctx, "life", 0); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteInstance(ctx, "life"); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.GetInstance(ctx, "life")
	if !errors.Is(err, lxd.ErrNotFound) || !errors.As(err, &le) || le.StatusCode != 404 {
		t.Errorf("get deleted: %v, want ErrNotFound with status 404", err)
	}
	if err := c.StartInstance(ctx, "life"); !errors.Is(err, lxd.ErrNotFound) {
		t.Errorf("start deleted: %v, want ErrNotFound", err)
	}
	err = c.CreateInstance(ctx, lxd.CreateInstanceRequest{Name: "noimage", Image: "no-such-alias"})
	if !errors.Is(err, lxd.ErrNotFound) || !strings.Contains(err.Error(), "alias") {
		t.Errorf("create from a missing image: %v, want ErrNotFound naming the alias", err)
	}
}

func TestIntegrationBackupRoundTrip(t *testing.T) {
	a, _ := testPair(t)
	c := socketClient(t, a)
	ctx := ctxT(t, 2*time.Minute)
	listen := servicePort(t, a.Address)
	launch(t, c, "bak", listen)
	if _, err := fetch(listen, 10*time.Second); err != nil {
		t.Fatal(err)
	}

	// Backups made by name are listed, exported, and deleted.
	name, err := c.CreateBackup(ctx, "bak", lxd.BackupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bks, err := c.ListBackups(ctx, "bak")
	if err != nil || len(bks) != 1 || bks[0].Name != name || !bks[0].InstanceOnly || bks[0].OptimizedStorage {
		t.Fatalf("ListBackups = %+v, %v; want one instance-only backup %q", bks, err, name)
	}
	var buf bytes.Buffer
	n, err := c.ExportBackup(ctx, "bak", name, &buf)
	if err != nil || n != int64(buf.Len()) || n < 100_000 || !bytes.HasPrefix(buf.Bytes(), []byte{0x1f, 0x8b}) {
		t.Fatalf("ExportBackup: %d bytes (buffer %d), %v; want a gzip tarball", n, buf.Len(), err)
	}
	if err := c.DeleteBackup(ctx, "bak", name); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExportBackup(ctx, "bak", name, io.Discard); !errors.Is(err, lxd.ErrNotFound) {
		t.Errorf("export deleted backup: %v, want ErrNotFound", err)
	}

	// The cold-standby path: export to a file, lose the instance, import
	// under a new name, start, and the service answers again.
	file := filepath.Join(t.TempDir(), "bak.tar.gz")
	if _, err := c.ExportInstanceFile(ctx, "bak", file); err != nil {
		t.Fatal(err)
	}
	if bks, _ := c.ListBackups(ctx, "bak"); len(bks) != 0 {
		t.Errorf("ExportInstance left backups on the daemon: %+v", bks)
	}
	remove(c, "bak")
	if err := c.ImportBackupFile(ctx, file, lxd.ImportOptions{Name: "bak2"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { remove(c, "bak2") })
	if err := c.StartInstance(ctx, "bak2"); err != nil {
		t.Fatal(err)
	}
	if body, err := fetch(listen, 10*time.Second); err != nil || !strings.Contains(body, "busybox httpd") {
		t.Fatalf("service after import: %q, %v", body, err)
	}
	if err := c.ImportBackupFile(ctx, file, lxd.ImportOptions{Name: "bak2"}); !errors.Is(err, lxd.ErrAlreadyExists) {
		t.Errorf("import over an existing instance: %v, want ErrAlreadyExists", err)
	}
	// A corrupt tarball gives an error, not an instance.
	bad := filepath.Join(t.TempDir(), "bad.tar.gz")
	os.WriteFile(bad, []byte("this is not a tarball"), 0o644)
	err = c.ImportBackupFile(ctx, bad, lxd.ImportOptions{Name: "bak3"})
	if err == nil {
		remove(c, "bak3")
		t.Fatal("importing garbage succeeded")
	}
	t.Logf("corrupt import error: %v", err)
	if _, _, err := c.GetInstance(ctx, "bak3"); !errors.Is(err, lxd.ErrNotFound) {
		t.Errorf("corrupt import left an instance: %v", err)
	}
}

func TestIntegrationCopyStopped(t *testing.T) {
	a, b := testPair(t)
	src, dst := httpsClient(t, a), httpsClient(t, b)
	ctx := ctxT(t, 2*time.Minute)
	listen := servicePort(t, a.Address)
	launch(t, src, "cp", listen)
	if err := src.StopInstance(ctx, "cp", 0); err != nil {
		t.Fatal(err)
	}
	listenB := servicePort(t, b.Address)
	start := time.Now()
	err := src.CopyInstance(ctx, dst, "cp", lxd.CopyOptions{
		Devices: map[string]map[string]string{"http": lxd.ProxyDevice(listenB, "tcp:127.0.0.1:8080")},
		Config:  map[string]string{"user.copied": "true"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("copy of a stopped container took %s", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { remove(dst, "cp") })
	inst, _, err := dst.GetInstance(ctx, "cp")
	if err != nil {
		t.Fatal(err)
	}
	if inst.Config["user.copied"] != "true" || inst.Devices["http"]["listen"] != "tcp:"+listenB || inst.Status != "Stopped" {
		t.Errorf("copy: status %s config %v devices %v", inst.Status, inst.Config, inst.Devices)
	}
	if err := dst.StartInstance(ctx, "cp"); err != nil {
		t.Fatal(err)
	}
	if _, err := fetch(listenB, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// Copying onto an existing instance without Refresh is refused.
	err = src.CopyInstance(ctx, dst, "cp", lxd.CopyOptions{})
	if !errors.Is(err, lxd.ErrAlreadyExists) {
		t.Errorf("copy onto existing: %v, want ErrAlreadyExists", err)
	}
	if err := src.CopyInstance(ctx, dst, "missing", lxd.CopyOptions{}); !errors.Is(err, lxd.ErrNotFound) {
		t.Errorf("copy missing: %v, want ErrNotFound", err)
	}
}

// TestIntegrationStatelessMove is the scale-up fallback: pre-copy while the
// service runs, stop it, refresh only the delta, start on the target.
func TestIntegrationStatelessMove(t *testing.T) {
	a, b := testPair(t)
	// The source by socket: CopyInstance finds its HTTPS address itself.
	src, dst := socketClient(t, a), httpsClient(t, b)
	ctx := ctxT(t, 2*time.Minute)
	listen := servicePort(t, a.Address)
	launch(t, src, "mv", listen)
	if _, err := fetch(listen, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	listenB := servicePort(t, b.Address)
	dev := map[string]map[string]string{"http": lxd.ProxyDevice(listenB, "tcp:127.0.0.1:8080")}
	if err := src.CopyInstance(ctx, dst, "mv", lxd.CopyOptions{Devices: dev}); err != nil {
		t.Fatalf("pre-copy of the running container: %v", err)
	}
	t.Cleanup(func() { remove(dst, "mv") })
	if _, err := fetch(listen, time.Second); err != nil {
		t.Errorf("source stopped serving during pre-copy: %v", err)
	}

	// The service changes after the pre-copy; the refresh must carry it.
	page := filepath.Join(rootfs(a, "mv"), "var/www/index.html")
	if err := os.WriteFile(page, []byte("changed after pre-copy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := src.StopInstance(ctx, "mv", 0); err != nil {
		t.Fatal(err)
	}
	if err := src.CopyInstance(ctx, dst, "mv", lxd.CopyOptions{Refresh: true, Devices: dev}); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if err := dst.StartInstance(ctx, "mv"); err != nil {
		t.Fatal(err)
	}
	body, err := fetch(listenB, 10*time.Second)
	t.Logf("stop + refresh + start until the port answered: %s", time.Since(start).Round(time.Millisecond))
	if err != nil || !strings.Contains(body, "changed after pre-copy") {
		t.Fatalf("target after refresh serves %q, %v; want the changed page", body, err)
	}
}

func TestIntegrationLiveMigrationFails(t *testing.T) {
	a, b := testPair(t)
	src, dst := httpsClient(t, a), httpsClient(t, b)
	ctx := ctxT(t, 2*time.Minute)
	listen := servicePort(t, a.Address)
	launch(t, src, "live", listen)
	err := src.CopyInstance(ctx, dst, "live", lxd.CopyOptions{Live: true})
	if err == nil {
		remove(dst, "live")
		t.Skip("live migration worked here: CRIU is usable on this kernel")
	}
	t.Logf("live migration error: %v", err)
	if !errors.Is(err, lxd.ErrLiveMigration) {
		t.Errorf("err = %v, want ErrLiveMigration", err)
	}
	var le *lxd.Error
	if !errors.As(err, &le) || le.Message == "" || !strings.Contains(strings.ToLower(err.Error()), "criu") {
		t.Errorf("err = %v, want LXD's own message about CRIU", err)
	}
	if _, _, err := dst.GetInstance(ctx, "live"); !errors.Is(err, lxd.ErrNotFound) {
		t.Errorf("failed live migration left an instance on the target: %v", err)
	}
	if _, err := fetch(listen, time.Second); err != nil {
		t.Errorf("source stopped serving after the failed live migration: %v", err)
	}
}

func TestIntegrationCancel(t *testing.T) {
	a, _ := testPair(t)
	c := socketClient(t, a)
	ctx := ctxT(t, time.Minute)
	listen := servicePort(t, a.Address)
	launch(t, c, "cancel", listen)
	if err := c.StopInstance(ctx, "cancel", 0); err != nil {
		t.Fatal(err)
	}
	// A migration source waits for a target that never comes: a
	// long-running operation to wait on and cancel.
	op, err := c.MigrateSource(ctx, "cancel", false, true)
	if err != nil {
		t.Fatal(err)
	}
	if !op.MayCancel || op.Class != "websocket" || op.Secrets()["fs"] == "" {
		t.Errorf("migration source op = %+v, want a cancellable websocket op with secrets", op)
	}
	start := time.Now()
	if err := op.Wait(ctx, 300*time.Millisecond); !errors.Is(err, lxd.ErrOperationTimeout) {
		t.Errorf("wait with timeout: %v, want ErrOperationTimeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("wait with a 300ms timeout took %s", d)
	}
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(200*time.Millisecond, cancel)
	if err := op.Wait(cctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("wait with cancelled ctx: %v, want context.Canceled", err)
	}
	if err := op.Cancel(ctx); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	err = op.Wait(ctx, 10*time.Second)
	var le *lxd.Error
	if !errors.As(err, &le) || le.StatusCode != lxd.StatusCancelled {
		t.Errorf("wait after cancel: %v (op status %q), want a cancelled-operation error", err, op.Status)
	}
	if _, err := c.GetOperation(ctx, "no-such-operation"); !errors.Is(err, lxd.ErrNotFound) {
		t.Errorf("get missing operation: %v, want ErrNotFound", err)
	}
}

// TestIntegrationFrozenRefreshMove is the shorter-downtime variant of the
// stateless move: freeze the source instead of stopping it, refresh from the
// frozen (consistent) filesystem, start the target; the source can resume.
func TestIntegrationFrozenRefreshMove(t *testing.T) {
	a, b := testPair(t)
	src, dst := httpsClient(t, a), httpsClient(t, b)
	ctx := ctxT(t, 2*time.Minute)
	listen := servicePort(t, a.Address)
	launch(t, src, "frz", listen)
	listenB := servicePort(t, b.Address)
	dev := map[string]map[string]string{"http": lxd.ProxyDevice(listenB, "tcp:127.0.0.1:8080")}
	if err := src.CopyInstance(ctx, dst, "frz", lxd.CopyOptions{Devices: dev}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { remove(dst, "frz") })
	if err := os.WriteFile(filepath.Join(rootfs(a, "frz"), "var/www/index.html"), []byte("frozen delta\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := src.FreezeInstance(ctx, "frz"); err != nil {
		t.Fatal(err)
	}
	froze := time.Since(start)
	if st, _ := src.GetInstanceState(ctx, "frz"); st == nil || st.StatusCode != lxd.StatusFrozen {
		t.Fatalf("after freeze: %+v", st)
	}
	if err := src.CopyInstance(ctx, dst, "frz", lxd.CopyOptions{Refresh: true, Devices: dev}); err != nil {
		t.Fatalf("refresh from a frozen source: %v", err)
	}
	if err := dst.StartInstanceReady(ctx, "frz", lxd.HTTPProbe("http://"+listenB+"/"), 0); err != nil {
		t.Fatal(err)
	}
	t.Logf("freeze %s; freeze + refresh + ready start until the port answered: %s", froze.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	body, err := fetch(listenB, 0)
	if err != nil || !strings.Contains(body, "frozen delta") {
		t.Fatalf("target serves %q, %v; want the delta", body, err)
	}
	// The source resumes where it was (what a failed move rolls back to).
	if err := src.UnfreezeInstance(ctx, "frz"); err != nil {
		t.Fatal(err)
	}
	if body, err := fetch(listen, 5*time.Second); err != nil || !strings.Contains(body, "frozen delta") {
		t.Errorf("source after unfreeze: %q, %v", body, err)
	}
}

// TestIntegrationCopyCancelled: a copy whose context ends midway returns the
// context's error and leaves no migration running on either daemon.
func TestIntegrationCopyCancelled(t *testing.T) {
	a, b := testPair(t)
	src, dst := httpsClient(t, a), httpsClient(t, b)
	ctx := ctxT(t, time.Minute)
	launch(t, src, "cc", servicePort(t, a.Address))
	if err := src.StopInstance(ctx, "cc", 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { remove(dst, "cc") })
	cctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	err := src.CopyInstance(cctx, dst, "cc", lxd.CopyOptions{})
	if err == nil {
		t.Skip("the copy finished within 150 ms; nothing to cancel")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled copy: %v, want context.DeadlineExceeded", err)
	}
	running := func(c *lxd.Client) []string {
		resp, _, err := c.Raw(ctx, "GET", "/1.0/operations?recursion=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		var ops map[string][]lxd.Operation
		if err := json.Unmarshal(resp.Metadata, &ops); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, op := range ops["running"] {
			out = append(out, op.Description)
		}
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, d := running(src), running(dst)
		if len(s) == 0 && len(d) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("operations still running after a cancelled copy: source %v, target %v", s, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, _, err := dst.GetInstance(ctx, "cc"); !errors.Is(err, lxd.ErrNotFound) {
		t.Errorf("target after the cancelled copy: %v, want no partial instance (ErrNotFound)", err)
	}
	// The source is intact and can still be copied.
	if err := src.CopyInstance(ctx, dst, "cc", lxd.CopyOptions{TargetName: "cc2"}); err != nil {
		t.Fatalf("copy after a cancelled one: %v", err)
	}
	remove(dst, "cc2")
}
