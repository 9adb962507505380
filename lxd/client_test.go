package lxd_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
)

func TestConnectUnixSocket(t *testing.T) {
	f := newFake(t)
	c := f.startUnix()
	srv := c.Server()
	if srv.Environment.ServerName != "fake" || srv.Environment.Addresses[0] != "127.0.0.1:18443" || !srv.HasExtension("instances") {
		t.Errorf("server = %+v", srv)
	}
	if c.Target() != "unix:"+f.socket {
		t.Errorf("Target = %q", c.Target())
	}
	f.route("GET /1.0/networks", func(w http.ResponseWriter, r *http.Request) { sync200(w, []string{"/1.0/networks/lo"}) })
	resp, _, err := c.Raw(context.Background(), "GET", "/1.0/networks?recursion=0", nil)
	if err != nil || resp.Type != "sync" || !strings.Contains(string(resp.Metadata), "/1.0/networks/lo") {
		t.Errorf("Raw = %+v, %v", resp, err)
	}
	if got := f.requests("GET", "/1.0/networks"); len(got) != 1 || got[0].Query != "recursion=0" {
		t.Errorf("Raw request = %+v", got)
	}
}

func TestConnectValidatesConfig(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range map[string]lxd.Config{
		"neither":        {},
		"both":           {Socket: "/x", URL: "https://x"},
		"http url":       {URL: "http://127.0.0.1:8443", ClientCert: "a", ClientKey: "b", ServerCert: "c"},
		"no server cert": {URL: "https://127.0.0.1:8443", ClientCert: "a", ClientKey: "b"},
		"missing socket": {Socket: filepath.Join(t.TempDir(), "nope")},
	} {
		if _, err := lxd.Connect(ctx, cfg); err == nil {
			t.Errorf("%s: Connect succeeded", name)
		}
	}
}

func TestConnectTLSPinsServerCertificate(t *testing.T) {
	f := newFake(t)
	var peer []byte
	f.route("GET /1.0/instances", func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) > 0 {
			peer = r.TLS.PeerCertificates[0].Raw
		}
		sync200(w, []any{})
	})
	srv := httptest.NewUnstartedServer(f)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	defer srv.Close()
	dir := t.TempDir()
	if err := makeClientCert(dir); err != nil {
		t.Fatal(err)
	}
	serverPEM := filepath.Join(dir, "server.crt")
	os.WriteFile(serverPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	cfg := lxd.Config{URL: srv.URL, ClientCert: filepath.Join(dir, "client.crt"), ClientKey: filepath.Join(dir, "client.key"), ServerCert: serverPEM}

	c, err := lxd.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connect with the right pin: %v", err)
	}
	if _, err := c.ListInstances(context.Background()); err != nil {
		t.Fatal(err)
	}
	clientPEM, _ := os.ReadFile(cfg.ClientCert)
	blk, _ := pem.Decode(clientPEM)
	if !bytes.Equal(peer, blk.Bytes) {
		t.Error("server did not see our client certificate")
	}

	// Any other certificate is refused, even a well-formed one.
	cfg.ServerCert = cfg.ClientCert
	if _, err := lxd.Connect(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "pinned") {
		t.Errorf("connect with the wrong pin: %v, want a pinning error", err)
	}
	// A daemon that does not trust us is reported at Connect.
	f.route("GET /1.0", func(w http.ResponseWriter, r *http.Request) { sync200(w, map[string]any{"auth": "untrusted"}) })
	cfg.ServerCert = serverPEM
	if _, err := lxd.Connect(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "trust") {
		t.Errorf("connect untrusted: %v, want a trust error", err)
	}
}

func TestErrorMapping(t *testing.T) {
	h := func(code int, msg string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { errResp(w, code, msg) }
	}
	cases := []struct {
		name          string
		handler       http.HandlerFunc // the answer to the request, or
		opErr         string           // the failure of the operation it starts
		status        int
		notFound, dup bool
		msg           string
	}{
		{"404", h(404, "Instance not found"), "", 404, true, false, "Instance not found"},
		{"409", h(409, `Instance "x" already exists`), "", 409, false, true, "already exists"},
		{"403", h(403, "not authorized"), "", 403, false, false, "lxc config trust add"},
		{"500", h(500, "Unable to do it"), "", 500, false, false, "Unable to do it"},
		{"non-JSON 502", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502); w.Write([]byte("bad gateway")) }, "", 502, false, false, "bad gateway"},
		{"op already exists", nil, `Failed creating instance record: Add instance info to the database: This "instances" entry already exists`, 400, false, true, "entry already exists"},
		{"op not found", nil, "Failed getting image: Image not found", 400, true, false, "Image not found"},
		{"op generic", nil, "Failed to run: forkstart: exit status 1", 400, false, false, "forkstart"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			if tc.handler != nil {
				f.route("PUT /1.0/instances/x/state", tc.handler)
			} else {
				f.asyncOp("PUT /1.0/instances/x/state", "op1", 400, tc.opErr, nil)
			}
			c := f.startUnix()
			err := c.StartInstance(context.Background(), "x")
			var le *lxd.Error
			if !errors.As(err, &le) {
				t.Fatalf("err = %v (%T), want *lxd.Error", err, err)
			}
			if le.StatusCode != tc.status || errors.Is(err, lxd.ErrNotFound) != tc.notFound || errors.Is(err, lxd.ErrAlreadyExists) != tc.dup {
				t.Errorf("err = %v: status %d notFound %v dup %v", err, le.StatusCode, errors.Is(err, lxd.ErrNotFound), errors.Is(err, lxd.ErrAlreadyExists))
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), `start instance "x"`) {
				t.Errorf("err = %q, want it to contain %q and the action", err, tc.msg)
			}
		})
	}
}

func TestCreateInstanceWireFormat(t *testing.T) {
	f := newFake(t)
	f.asyncOp("POST /1.0/instances", "create1", 200, "", map[string][]string{"instances": {"/1.0/instances/web"}})
	f.asyncOp("PUT /1.0/instances/web/state", "start1", 200, "", nil)
	c := f.startUnix()
	err := c.CreateInstance(context.Background(), lxd.CreateInstanceRequest{
		Name: "web", Image: "busybox", Start: true, Profiles: []string{"default"},
		Config:  map[string]string{"limits.cpu": "1"},
		Devices: map[string]map[string]string{"http": lxd.ProxyDevice("127.0.0.2:8080", "tcp:127.0.0.1:8080")},
	})
	if err != nil {
		t.Fatal(err)
	}
	post := f.requests("POST", "/1.0/instances")
	if len(post) != 1 || post[0].Header.Get("Content-Type") != "application/json" {
		t.Fatalf("create requests = %+v", post)
	}
	want := map[string]any{
		"name": "web", "type": "container", "profiles": []any{"default"},
		"config":  map[string]any{"limits.cpu": "1"},
		"devices": map[string]any{"http": map[string]any{"type": "proxy", "listen": "tcp:127.0.0.2:8080", "connect": "tcp:127.0.0.1:8080"}},
		"source":  map[string]any{"type": "image", "alias": "busybox"},
	}
	if got := decode(t, post[0].Body); !reflect.DeepEqual(got, want) {
		t.Errorf("create body = %v\nwant %v", got, want)
	}
	if w := f.requests("GET", "/1.0/operations/create1/wait"); len(w) != 1 || w[0].Query != "timeout=-1" {
		t.Errorf("wait requests = %+v, want one with timeout=-1", w)
	}
	st := f.requests("PUT", "/1.0/instances/web/state")
	wantState := map[string]any{"action": "start", "timeout": 0.0, "force": false, "stateful": false}
	if len(st) != 1 || !reflect.DeepEqual(decode(t, st[0].Body), wantState) {
		t.Errorf("state requests = %+v", st)
	}
	if err := c.CreateInstance(context.Background(), lxd.CreateInstanceRequest{Name: "x"}); err == nil {
		t.Error("create without an image succeeded")
	}
}

func TestStopGracefulThenForce(t *testing.T) {
	f := newFake(t)
	n := 0
	f.route("PUT /1.0/instances/web/state", func(w http.ResponseWriter, r *http.Request) {
		n++
		async202(w, opJSON([]string{"", "graceful", "force"}[n], 103, "", nil, nil))
	})
	f.route("GET /1.0/operations/graceful/wait", func(w http.ResponseWriter, r *http.Request) {
		sync200(w, opJSON("graceful", 400, `Failed shutting down instance, status is "Running": shutting down the container failed`, nil, nil))
	})
	f.route("GET /1.0/instances/web/state", func(w http.ResponseWriter, r *http.Request) {
		sync200(w, map[string]any{"status": "Running", "status_code": 103, "cpu": map[string]any{"usage": 12345}, "memory": map[string]any{"usage": 4096}})
	})
	f.route("GET /1.0/operations/force/wait", func(w http.ResponseWriter, r *http.Request) {
		sync200(w, opJSON("force", 200, "", nil, nil))
	})
	c := f.startUnix()
	if err := c.StopInstance(context.Background(), "web", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests("PUT", "/1.0/instances/web/state")
	if len(reqs) != 2 {
		t.Fatalf("got %d state changes, want graceful then force", len(reqs))
	}
	if got := decode(t, reqs[0].Body); got["action"] != "stop" || got["timeout"] != 2.0 || got["force"] != false {
		t.Errorf("graceful body = %v", got)
	}
	if got := decode(t, reqs[1].Body); got["action"] != "stop" || got["force"] != true {
		t.Errorf("force body = %v", got)
	}
	st, err := c.GetInstanceState(context.Background(), "web")
	if err != nil || !st.Running() || st.CPU.Usage != 12345 || st.Memory.Usage != 4096 {
		t.Errorf("state = %+v, %v", st, err)
	}
}

func TestWaitTimeoutAndCancellation(t *testing.T) {
	f := newFake(t)
	f.route("GET /1.0/operations/slow/wait", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never finishes while the client waits
	})
	f.route("GET /1.0/operations/slow", func(w http.ResponseWriter, r *http.Request) {
		sync200(w, opJSON("slow", 103, "", nil, nil))
	})
	f.route("DELETE /1.0/operations/slow", func(w http.ResponseWriter, r *http.Request) { sync200(w, nil) })
	c := f.startUnix()
	ctx := context.Background()

	start := time.Now()
	_, err := c.WaitOperation(ctx, "slow", 300*time.Millisecond)
	if !errors.Is(err, lxd.ErrOperationTimeout) {
		t.Errorf("wait: %v, want ErrOperationTimeout", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
		t.Errorf("a 300ms wait took %s", d)
	}
	if w := f.requests("GET", "/1.0/operations/slow/wait"); len(w) == 0 || w[0].Query != "timeout=1" {
		t.Errorf("wait query = %+v, want timeout=1 (rounded up)", w)
	}

	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := c.WaitOperation(cctx, "slow", 0); !errors.Is(err, context.Canceled) {
		t.Errorf("wait: %v, want context.Canceled", err)
	}
	op, err := c.GetOperation(ctx, "slow")
	if err != nil || op.Done() || op.Status != "Running" {
		t.Fatalf("GetOperation = %+v, %v", op, err)
	}
	if err := op.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if len(f.requests("DELETE", "/1.0/operations/slow")) != 1 {
		t.Error("Cancel sent no DELETE")
	}
}

func TestBackupWireFormat(t *testing.T) {
	f := newFake(t)
	f.asyncOp("POST /1.0/instances/web/backups", "bk1", 200, "", map[string][]string{
		"instances": {"/1.0/instances/web"}, "backups": {"/1.0/instances/web/backups/backup0"},
	})
	tarball := bytes.Repeat([]byte("tarball!"), 10000)
	f.route("GET /1.0/instances/web/backups/backup0/export", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(tarball)
	})
	f.asyncOp("DELETE /1.0/instances/web/backups/backup0", "del1", 200, "", nil)
	f.asyncOp("POST /1.0/instances", "imp1", 200, "", nil)
	c := f.startUnix()
	ctx := context.Background()

	name, err := c.CreateBackup(ctx, "web", lxd.BackupOptions{})
	if err != nil || name != "backup0" {
		t.Fatalf("CreateBackup = %q, %v", name, err)
	}
	body := decode(t, f.requests("POST", "/1.0/instances/web/backups")[0].Body)
	if body["instance_only"] != true || body["optimized_storage"] != false || body["name"] != "" {
		t.Errorf("backup body = %v", body)
	}
	file := filepath.Join(t.TempDir(), "web.tar.gz")
	n, err := c.ExportBackupFile(ctx, "web", "backup0", file)
	got, _ := os.ReadFile(file)
	if err != nil || n != int64(len(tarball)) || !bytes.Equal(got, tarball) {
		t.Fatalf("export: %d bytes, %v", n, err)
	}
	if err := c.DeleteBackup(ctx, "web", "backup0"); err != nil {
		t.Fatal(err)
	}
	if err := c.ImportBackupFile(ctx, file, lxd.ImportOptions{Name: "web2", Pool: "default"}); err != nil {
		t.Fatal(err)
	}
	imp := f.requests("POST", "/1.0/instances")
	if len(imp) != 1 || imp[0].Header.Get("Content-Type") != "application/octet-stream" ||
		imp[0].Header.Get("X-LXD-name") != "web2" || imp[0].Header.Get("X-LXD-pool") != "default" || !bytes.Equal(imp[0].Body, tarball) {
		t.Errorf("import request: headers %v, %d body bytes", imp[0].Header, len(imp[0].Body))
	}
	// An export that fails leaves no partial file behind.
	f.route("GET /1.0/instances/web/backups/gone/export", func(w http.ResponseWriter, r *http.Request) { errResp(w, 404, "Backup not found") })
	bad := filepath.Join(t.TempDir(), "bad.tar.gz")
	if _, err := c.ExportBackupFile(ctx, "web", "gone", bad); !errors.Is(err, lxd.ErrNotFound) {
		t.Errorf("export missing backup: %v, want ErrNotFound", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(bad)); len(entries) != 0 {
		t.Errorf("failed export left files: %v", entries)
	}
}

func TestCopyInstanceWireFormat(t *testing.T) {
	src, dst := newFake(t), newFake(t)
	src.route("GET /1.0/instances/web", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"abc"`)
		sync200(w, map[string]any{
			"name": "web", "type": "container", "architecture": "x86_64", "profiles": []string{"default"},
			"config": map[string]string{"limits.cpu": "1", "volatile.idmap.base": "0", "volatile.base_image": "f00"},
			"devices": map[string]any{"http": map[string]string{"type": "proxy", "listen": "tcp:127.0.0.2:80", "connect": "tcp:127.0.0.1:8080"},
				"data": map[string]string{"type": "disk", "path": "/data", "source": "/srv"}},
		})
	})
	src.route("POST /1.0/instances/web", func(w http.ResponseWriter, r *http.Request) {
		op := opJSON("mig1", 103, "", nil, map[string]any{"control": "sc", "fs": "sf"})
		op["class"], op["may_cancel"] = "websocket", true
		async202(w, op)
	})
	src.route("GET /1.0/operations/mig1/wait", func(w http.ResponseWriter, r *http.Request) {
		sync200(w, opJSON("mig1", 200, "", nil, nil))
	})
	dst.asyncOp("POST /1.0/instances", "pull1", 200, "", nil)
	s, d := src.startUnix(), dst.startUnix()

	err := s.CopyInstance(context.Background(), d, "web", lxd.CopyOptions{
		Refresh: true, TargetName: "web-b",
		Devices: map[string]map[string]string{"http": lxd.ProxyDevice("127.0.0.3:80", "tcp:127.0.0.1:8080")},
	})
	if err != nil {
		t.Fatal(err)
	}
	mig := decode(t, src.requests("POST", "/1.0/instances/web")[0].Body)
	if mig["migration"] != true || mig["live"] != false || mig["instance_only"] != true {
		t.Errorf("source body = %v", mig)
	}
	body := decode(t, dst.requests("POST", "/1.0/instances")[0].Body)
	wantSource := map[string]any{
		"type": "migration", "mode": "pull", "operation": "https://127.0.0.1:18443/1.0/operations/mig1",
		"certificate": "-----BEGIN CERTIFICATE-----\nFAKE\n-----END CERTIFICATE-----\n",
		"secrets":     map[string]any{"control": "sc", "fs": "sf"}, "instance_only": true, "refresh": true,
	}
	if !reflect.DeepEqual(body["source"], wantSource) {
		t.Errorf("target source = %v\nwant %v", body["source"], wantSource)
	}
	if body["name"] != "web-b" || body["architecture"] != "x86_64" || body["type"] != "container" {
		t.Errorf("target body = %v", body)
	}
	wantConfig := map[string]any{"limits.cpu": "1", "volatile.base_image": "f00"}
	if !reflect.DeepEqual(body["config"], wantConfig) {
		t.Errorf("target config = %v, want volatile keys dropped except the base image", body["config"])
	}
	devs := body["devices"].(map[string]any)
	if devs["http"].(map[string]any)["listen"] != "tcp:127.0.0.3:80" || devs["data"] == nil {
		t.Errorf("target devices = %v, want the proxy rewritten and the disk kept", devs)
	}

	// A target failure is reported with both sides' messages and the
	// source operation is cancelled; a live attempt is marked as such.
	dst.asyncOp("POST /1.0/instances", "pull2", 400, "Error transferring instance data: migration dump failed", nil)
	src.route("GET /1.0/operations/mig1/wait", func(w http.ResponseWriter, r *http.Request) {
		sync200(w, opJSON("mig1", 400, "Failed to run: criu dump: Failed to fill self vdso symtable", nil, nil))
	})
	err = s.CopyInstance(context.Background(), d, "web", lxd.CopyOptions{Live: true})
	if !errors.Is(err, lxd.ErrLiveMigration) || !strings.Contains(err.Error(), "vdso") || !strings.Contains(err.Error(), "migration dump failed") {
		t.Errorf("live copy failure: %v", err)
	}
	if mig := decode(t, src.requests("POST", "/1.0/instances/web")[1].Body); mig["live"] != true {
		t.Errorf("live source body = %v", mig)
	}
	body = decode(t, dst.requests("POST", "/1.0/instances")[1].Body)
	if src := body["source"].(map[string]any); src["live"] != true {
		t.Errorf("live target source = %v", src)
	}
	if body["config"].(map[string]any)["volatile.idmap.base"] != "0" {
		t.Errorf("live copy dropped volatile keys: %v", body["config"])
	}

	// A pre-copy asks both sides not to freeze the running source; a plain
	// copy leaves the field out for daemons that predate it.
	if _, ok := mig["allow_inconsistent"]; ok {
		t.Errorf("plain copy sent allow_inconsistent: %v", mig)
	}
	dst.asyncOp("POST /1.0/instances", "pull3", 200, "", nil)
	src.route("GET /1.0/operations/mig1/wait", func(w http.ResponseWriter, r *http.Request) {
		sync200(w, opJSON("mig1", 200, "", nil, nil))
	})
	if err := s.CopyInstance(context.Background(), d, "web", lxd.CopyOptions{AllowInconsistent: true}); err != nil {
		t.Fatal(err)
	}
	mig = decode(t, src.requests("POST", "/1.0/instances/web")[2].Body)
	body = decode(t, dst.requests("POST", "/1.0/instances")[2].Body)
	if mig["allow_inconsistent"] != true || body["source"].(map[string]any)["allow_inconsistent"] != true {
		t.Errorf("inconsistent copy: source body = %v, target source = %v", mig, body["source"])
	}
}

func TestSetDeviceUsesETag(t *testing.T) {
	f := newFake(t)
	etag := 0
	f.route("GET /1.0/instances/web", func(w http.ResponseWriter, r *http.Request) {
		etag++
		w.Header().Set("ETag", `"v`+string(rune('0'+etag))+`"`)
		sync200(w, map[string]any{"name": "web", "profiles": []string{"default"}, "config": map[string]string{"k": "v"},
			"devices": map[string]any{"http": map[string]string{"type": "proxy", "listen": "tcp:127.0.0.2:80", "connect": "tcp:127.0.0.1:8080"}}})
	})
	puts := 0
	f.route("PUT /1.0/instances/web", func(w http.ResponseWriter, r *http.Request) {
		puts++
		if puts == 1 { // someone else changed the instance meanwhile
			errResp(w, 412, "ETag doesn't match")
			return
		}
		async202(w, opJSON("upd", 103, "", nil, nil))
	})
	f.route("GET /1.0/operations/upd/wait", func(w http.ResponseWriter, r *http.Request) { sync200(w, opJSON("upd", 200, "", nil, nil)) })
	c := f.startUnix()
	if err := c.SetDevice(context.Background(), "web", "http", lxd.ProxyDevice("tcp:127.0.0.3:80", "tcp:127.0.0.1:8080")); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests("PUT", "/1.0/instances/web")
	if len(reqs) != 2 || reqs[0].Header.Get("If-Match") != `"v1"` || reqs[1].Header.Get("If-Match") != `"v2"` {
		t.Fatalf("PUTs = %d, If-Match %q", len(reqs), reqs[len(reqs)-1].Header.Get("If-Match"))
	}
	body := decode(t, reqs[1].Body)
	if body["devices"].(map[string]any)["http"].(map[string]any)["listen"] != "tcp:127.0.0.3:80" || body["config"].(map[string]any)["k"] != "v" {
		t.Errorf("PUT body = %v, want the new listen address and the config kept", body)
	}
}

func TestProxyHelpers(t *testing.T) {
	if d := lxd.ProxyDevice("127.0.0.2:80", "udp:127.0.0.1:53"); d["type"] != "proxy" || d["listen"] != "tcp:127.0.0.2:80" || d["connect"] != "udp:127.0.0.1:53" {
		t.Errorf("ProxyDevice = %v", d)
	}
	for in, want := range map[string][2]string{"tcp:127.0.0.2:80": {"tcp", "127.0.0.2:80"}, "unix:/run/s": {"unix", "/run/s"}} {
		n, a, err := lxd.ProxyAddress(in)
		if err != nil || n != want[0] || a != want[1] {
			t.Errorf("ProxyAddress(%q) = %q %q %v", in, n, a, err)
		}
	}
	for _, bad := range []string{"", "127.0.0.1:80", "sctp:1.2.3.4:5", "tcp:"} {
		if _, _, err := lxd.ProxyAddress(bad); err == nil {
			t.Errorf("ProxyAddress(%q) succeeded", bad)
		}
	}
	inst := &lxd.Instance{Name: "web", ExpandedDevices: map[string]map[string]string{
		"root": {"type": "disk"}, "http": lxd.ProxyDevice("127.0.0.2:80", "127.0.0.1:8080"),
	}}
	if l, err := inst.ProxyListen(""); err != nil || l != "tcp:127.0.0.2:80" {
		t.Errorf("ProxyListen = %q, %v", l, err)
	}
	if _, err := inst.ProxyListen("root"); err == nil {
		t.Error("ProxyListen of a disk device succeeded")
	}
}

func TestStartInstanceReady(t *testing.T) {
	f := newFake(t)
	f.route("PUT /1.0/instances/web/state", func(w http.ResponseWriter, r *http.Request) {
		async202(w, opJSON("st", 103, "", nil, nil))
	})
	// LXD's start operation lingers (the proxy poll); the service is up before.
	f.route("GET /1.0/operations/st/wait", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
			sync200(w, opJSON("st", 200, "", nil, nil))
		}
	})
	f.asyncOp("PUT /1.0/instances/broken/state", "bad", 400, "Failed to run: forkstart: exit status 1", nil)
	c := f.startUnix()
	ctx := context.Background()

	probes := 0
	start := time.Now()
	err := c.StartInstanceReady(ctx, "web", func(context.Context) error {
		if probes++; probes < 3 {
			return errors.New("connection refused")
		}
		return nil
	}, 5*time.Millisecond)
	if err != nil || probes != 3 {
		t.Fatalf("StartInstanceReady = %v after %d probes", err, probes)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("StartInstanceReady waited %s for the start operation instead of the probe", d)
	}
	if body := decode(t, f.requests("PUT", "/1.0/instances/web/state")[0].Body); body["action"] != "start" {
		t.Errorf("start body = %v", body)
	}

	err = c.StartInstanceReady(ctx, "broken", func(context.Context) error { return errors.New("refused") }, 0)
	if err == nil || !strings.Contains(err.Error(), "forkstart") {
		t.Errorf("failed start: %v, want LXD's message", err)
	}
	if err := c.StartInstanceReady(ctx, "web", nil, 0); err == nil {
		t.Error("nil probe accepted")
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err = c.StartInstanceReady(cctx, "web", func(context.Context) error { return errors.New("refused") }, 0)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("never ready: %v, want the deadline and the last probe error", err)
	}
}

func TestProbes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	host := strings.TrimPrefix(srv.URL, "http://")
	if err := lxd.TCPProbe("tcp:" + host)(ctx); err != nil {
		t.Errorf("TCPProbe(tcp:%s) = %v", host, err)
	}
	if err := lxd.TCPProbe(host)(ctx); err != nil {
		t.Errorf("TCPProbe(%s) = %v", host, err)
	}
	if err := lxd.HTTPProbe(srv.URL + "/")(ctx); err != nil {
		t.Errorf("HTTPProbe = %v", err)
	}
	if err := lxd.HTTPProbe(srv.URL + "/fail")(ctx); err == nil {
		t.Error("HTTPProbe accepted a 503")
	}
	srv.Close()
	if err := lxd.TCPProbe(host)(ctx); err == nil {
		t.Error("TCPProbe succeeded on a closed port")
	}
}

func TestStateChangeRetriesWhileBusy(t *testing.T) {
	f := newFake(t)
	n := 0
	f.route("PUT /1.0/instances/web/state", func(w http.ResponseWriter, r *http.Request) {
		n++
		async202(w, opJSON(fmt.Sprintf("op%d", n), 103, "", nil, nil))
	})
	f.route("GET /1.0/operations/op1/wait", func(w http.ResponseWriter, r *http.Request) {
		sync200(w, opJSON("op1", 400, `Create stop operation: Instance is busy running a "start" operation`, nil, nil))
	})
	f.route("GET /1.0/operations/op2/wait", func(w http.ResponseWriter, r *http.Request) {
		sync200(w, opJSON("op2", 200, "", nil, nil))
	})
	c := f.startUnix()
	if err := c.StopInstance(context.Background(), "web", 0); err != nil || n != 2 {
		t.Errorf("StopInstance = %v after %d attempts, want success on the second", err, n)
	}
}

func TestProjectQuery(t *testing.T) {
	f := newFake(t)
	f.startUnix()
	c, err := lxd.Connect(context.Background(), lxd.Config{Socket: f.socket, Project: "blue"})
	if err != nil {
		t.Fatal(err)
	}
	f.route("GET /1.0/instances", func(w http.ResponseWriter, r *http.Request) { sync200(w, []any{}) })
	f.route("GET /1.0/operations/x", func(w http.ResponseWriter, r *http.Request) { sync200(w, opJSON("x", 200, "", nil, nil)) })
	if _, err := c.ListInstances(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetOperation(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	if q := f.requests("GET", "/1.0/instances")[0].Query; q != "project=blue&recursion=1" {
		t.Errorf("instances query = %q, want the project", q)
	}
	if q := f.requests("GET", "/1.0")[1].Query; q != "" {
		t.Errorf("server query = %q, want none", q)
	}
	if q := f.requests("GET", "/1.0/operations/x")[0].Query; q != "" {
		t.Errorf("operation query = %q, want none (operations are global)", q)
	}
}
