package cold_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/backupstore"
	"github.com/vcrcovery/vcrcovery/plugins/cold"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategytest"
	"github.com/vcrcovery/vcrcovery/plugins/ownership"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// setPage changes the page the busybox service serves.
func setPage(t testing.TB, x *testenv.LXD, name, page string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "index.html")
	if err := os.WriteFile(f, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	x.Lxc(t, "file", "push", f, name+"/var/www/index.html")
}

func TestColdIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs a real LXD daemon")
	}
	x := testenv.StartLXD(t, testenv.LXDOptions{Name: "standby", Address: "127.0.0.2"})
	port := testenv.FreePort(t)
	x.LaunchService(t, "web", port)
	// The primary listened on its own address; backups carry that, and the
	// restore must move the listener to the standby's address.
	x.Lxc(t, "config", "device", "set", "web", "web", fmt.Sprintf("listen=tcp:127.0.0.9:%d", port))
	strategytest.WaitPage(t, "127.0.0.9", port, "web\n", 10*time.Second)

	dir := t.TempDir()
	shared := strategytest.SharedJSON(t, map[string]sdk.LXDRemote{"standby": strategytest.Remote(x)}, dir)
	settings := json.RawMessage(`{"remote":"standby","proxy_device":"web","keep":2}`)
	ctx := context.Background()

	// vcrctl's path: export from LXD into the store, with retention.
	b1, _, err := backupstore.CreateForService(ctx, "web", settings, shared)
	if err != nil {
		t.Fatalf("CreateForService: %v", err)
	}
	setPage(t, x, "web", "v2\n")
	b2, _, err := backupstore.CreateForService(ctx, "web", settings, shared)
	if err != nil {
		t.Fatalf("CreateForService: %v", err)
	}
	setPage(t, x, "web", "v3\n")
	b3, pruned, err := backupstore.CreateForService(ctx, "web", settings, shared)
	if err != nil {
		t.Fatalf("CreateForService: %v", err)
	}
	if len(pruned) != 1 || pruned[0].Path != b1.Path {
		t.Fatalf("keep=2 pruned %v, want the oldest %s", pruned, b1.Name())
	}
	store, _ := backupstore.Open(dir)
	if bs, _ := store.List("web"); len(bs) != 2 || bs[0].Path != b3.Path || bs[1].Path != b2.Path {
		t.Fatalf("store holds %v", bs)
	}
	// The standby's copy goes stale. An earlier incident restored it, so it
	// is web's to replace.
	setPage(t, x, "web", "stale\n")
	c, err := lxd.Connect(ctx, lxd.Config{Socket: x.Socket})
	if err != nil {
		t.Fatal(err)
	}
	if err := ownership.Mark(ctx, c, "web", ownership.Marks("web", "i0", nil)); err != nil {
		t.Fatal(err)
	}

	s := sdktest.GRPC(t, cold.Strategy{})
	req := sdk.PrepareRequest{IncidentID: "i1", Service: "web", Reason: "VCRDomainShutoff", Settings: settings, Shared: shared}
	// incident gives req another incident's ID: each restore below is a new
	// incident, since one incident restores once.
	incident := func(id string) sdk.PrepareRequest {
		r := req
		r.IncidentID = id
		return r
	}

	t.Run("restore newest", func(t *testing.T) {
		ep, err := s.Prepare(ctx, req, nil)
		if err != nil {
			t.Fatalf("Prepare: %v", err)
		}
		if ep.Address != "127.0.0.2" || ep.Port != port || ep.Details["backup"] != b3.Name() || ep.Details["replaced"] != "true" {
			t.Fatalf("endpoint = %+v", ep)
		}
		strategytest.WaitPage(t, ep.Address, ep.Port, "v3\n", 15*time.Second)
	})

	t.Run("corrupt newest falls back", func(t *testing.T) {
		raw, _ := os.ReadFile(b3.Path)
		raw[len(raw)/2] ^= 0xff
		os.WriteFile(b3.Path, raw, 0o640)
		var progress []string
		ep, err := s.Prepare(ctx, incident("i2"), func(p sdk.Progress) { progress = append(progress, p.Message) })
		if err != nil {
			t.Fatalf("Prepare: %v", err)
		}
		if ep.Details["backup"] != b2.Name() {
			t.Fatalf("restored %s, want %s", ep.Details["backup"], b2.Name())
		}
		all := strings.Join(progress, "\n")
		for _, want := range []string{"backup " + b3.Name() + " unusable", "sha256", "trying the next-newest, " + b2.Name(), "restored " + b2.Name()} {
			if !strings.Contains(all, want) {
				t.Errorf("progress lacks %q:\n%s", want, all)
			}
		}
		strategytest.WaitPage(t, ep.Address, ep.Port, "v2\n", 15*time.Second)
	})

	t.Run("not an LXD backup falls back", func(t *testing.T) {
		// A well-checksummed tarball LXD refuses: the importer's error is
		// reported and the next one tried.
		junk, err := store.Create(ctx, "web", func(_ context.Context, w io.Writer) error {
			_, err := io.WriteString(w, "this is no tarball")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(junk.Path)
		var progress []string
		ep, err := s.Prepare(ctx, incident("i3"), func(p sdk.Progress) { progress = append(progress, p.Message) })
		if err != nil {
			t.Fatalf("Prepare: %v", err)
		}
		if ep.Details["backup"] != b2.Name() || !strings.Contains(strings.Join(progress, "\n"), junk.Name()+" unusable") {
			t.Fatalf("backup %s, progress %q", ep.Details["backup"], progress)
		}
		strategytest.WaitPage(t, ep.Address, ep.Port, "v2\n", 15*time.Second)
	})

	t.Run("prepare again in the same incident", func(t *testing.T) {
		var progress []string
		ep, err := s.Prepare(ctx, incident("i3"), func(p sdk.Progress) { progress = append(progress, p.Message) })
		if err != nil {
			t.Fatalf("Prepare: %v", err)
		}
		if ep.Address != "127.0.0.2" || ep.Port != port || ep.Details["backup"] != b2.Name() || ep.Details["replaced"] != "false" {
			t.Fatalf("endpoint = %+v", ep)
		}
		if all := strings.Join(progress, "\n"); !strings.Contains(all, "earlier in this incident") || strings.Contains(all, "importing") {
			t.Errorf("a second Prepare of the incident restored again:\n%s", all)
		}
		strategytest.WaitPage(t, ep.Address, ep.Port, "v2\n", 15*time.Second)
	})

	t.Run("abort of another incident leaves the instance", func(t *testing.T) {
		if err := s.Abort(ctx, sdk.AbortRequest{IncidentID: "i2", Service: "web", Settings: settings, Shared: shared}); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		strategytest.WaitPage(t, "127.0.0.2", port, "v2\n", 5*time.Second)
	})

	t.Run("abort removes what the incident restored", func(t *testing.T) {
		for range 2 { // the second Abort finds nothing to do
			if err := s.Abort(ctx, sdk.AbortRequest{IncidentID: "i3", Service: "web", Settings: settings, Shared: shared}); err != nil {
				t.Fatalf("Abort: %v", err)
			}
		}
		if out := strings.TrimSpace(x.Lxc(t, "list", "--format", "csv", "-c", "n")); out != "" {
			t.Errorf("standby holds %q after the abort", out)
		}
	})

	t.Run("namesake it does not own survives", func(t *testing.T) {
		x.LaunchService(t, "web", port)
		r := incident("i4")
		_, err := s.Prepare(ctx, r, nil)
		if err == nil || !strings.Contains(err.Error(), "does not own") || !strings.Contains(err.Error(), "vcrctl standby adopt web") {
			t.Fatalf("Prepare over an unowned web = %v, want a conflict naming vcrctl standby adopt web", err)
		}
		t.Logf("error: %v", err)
		if err := s.Abort(ctx, sdk.AbortRequest{IncidentID: "i4", Service: "web", Settings: settings, Shared: shared}); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		strategytest.WaitPage(t, "127.0.0.2", port, "web\n", 5*time.Second)
	})

	t.Run("no backup", func(t *testing.T) {
		r := req
		r.Service = "ghost"
		_, err := s.Prepare(ctx, r, nil)
		if err == nil || !strings.Contains(err.Error(), "no backup for service ghost") || !strings.Contains(err.Error(), "vcrctl backup create ghost") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("LXD down", func(t *testing.T) {
		down := strategytest.Remote(x)
		down.URL = fmt.Sprintf("https://127.0.0.1:%d", testenv.FreePort(t))
		r := req
		r.Shared = strategytest.SharedJSON(t, map[string]sdk.LXDRemote{"standby": down}, dir)
		_, err := s.Prepare(ctx, r, nil)
		if err == nil || !strings.Contains(err.Error(), `LXD remote "standby" unreachable`) {
			t.Fatalf("err = %v", err)
		}
	})
}
