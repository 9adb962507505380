package warm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
	"github.com/vcrcovery/vcrcovery/plugins/warm"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

func remoteOf(x *testenv.LXD) sdk.LXDRemote {
	return sdk.LXDRemote{URL: x.URL, ClientCert: x.ClientCert, ClientKey: x.ClientKey, ServerCert: x.ServerCert, Address: x.Address}
}

func sharedJSON(t testing.TB, remotes map[string]sdk.LXDRemote) json.RawMessage {
	b, err := json.Marshal(sdk.SharedSettings{LXDRemotes: remotes})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// get fetches the service page, or returns the error.
func get(addr string, port int) (string, error) {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(fmt.Sprintf("http://%s:%d/", addr, port))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func waitPage(t testing.TB, addr string, port int, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		page, err := get(addr, port)
		if err == nil && page == want {
			return
		}
		last = fmt.Errorf("page %q, err %v", page, err)
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s:%d did not serve %q within %s: %v", addr, port, want, within, last)
}

func TestWarmIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs a real LXD daemon")
	}
	x := testenv.StartLXD(t, testenv.LXDOptions{Name: "standby", Address: "127.0.0.2"})
	port := testenv.FreePort(t)
	x.LaunchService(t, "web", port)
	x.Lxc(t, "stop", "--force", "web")
	if _, err := get(x.Address, port); err == nil {
		t.Fatal("stopped service still answers")
	}

	// As the receiver runs it: the built plugin binary in its own process,
	// through the plugin manager.
	s := sdktest.Binary(t, sdktest.Build(t, "github.com/vcrcovery/vcrcovery/cmd/vcr-strategy-warm", "warm"))
	ctx := context.Background()
	shared := sharedJSON(t, map[string]sdk.LXDRemote{"standby": remoteOf(x)})
	req := sdk.PrepareRequest{IncidentID: "i1", Service: "web", Reason: "VCRDomainShutoff",
		Settings: json.RawMessage(`{"remote":"standby","proxy_device":"web"}`), Shared: shared}

	var progress []string
	ep, err := s.Prepare(ctx, req, func(p sdk.Progress) { progress = append(progress, p.Message) })
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if ep.Address != x.Address || ep.Port != port {
		t.Fatalf("endpoint %s:%d, want %s:%d", ep.Address, ep.Port, x.Address, port)
	}
	if ep.Details["status_before"] != "Stopped" {
		t.Errorf("details = %v", ep.Details)
	}
	if !strings.Contains(strings.Join(progress, "\n"), "starting it") {
		t.Errorf("progress = %q", progress)
	}
	waitPage(t, ep.Address, ep.Port, "web\n", 15*time.Second)
	// In-process over gRPC from here on: the same shims, and faster.
	s = sdktest.GRPC(t, warm.Strategy{})

	t.Run("already running", func(t *testing.T) {
		ep, err := s.Prepare(ctx, req, nil)
		if err != nil || ep.Details["status_before"] != "Running" {
			t.Fatalf("Prepare = %+v, %v", ep, err)
		}
	})
	t.Run("instance missing", func(t *testing.T) {
		r := req
		r.Service = "ghost"
		_, err := s.Prepare(ctx, r, nil)
		if err == nil || !strings.Contains(err.Error(), `instance "ghost" is missing on remote "standby"`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("wrong proxy device", func(t *testing.T) {
		r := req
		r.Settings = json.RawMessage(`{"remote":"standby","proxy_device":"nope"}`)
		_, err := s.Prepare(ctx, r, nil)
		if err == nil || !strings.Contains(err.Error(), `no proxy device "nope"`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("LXD down", func(t *testing.T) {
		down := remoteOf(x)
		down.URL = fmt.Sprintf("https://127.0.0.1:%d", testenv.FreePort(t)) // nothing listens
		r := req
		r.Shared = sharedJSON(t, map[string]sdk.LXDRemote{"standby": down})
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		_, err := s.Prepare(ctx, r, nil)
		if err == nil || !strings.Contains(err.Error(), `LXD remote "standby" unreachable`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("remote not configured", func(t *testing.T) {
		r := req
		r.Settings = json.RawMessage(`{"remote":"elsewhere"}`)
		_, err := s.Prepare(ctx, r, nil)
		if err == nil || !strings.Contains(err.Error(), `"elsewhere" is not configured`) {
			t.Fatalf("err = %v", err)
		}
	})
}
