package warm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/internal/strategytest"
	"github.com/vcrcovery/vcrcovery/plugins/ownership"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
	"github.com/vcrcovery/vcrcovery/plugins/warm"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

func TestWarmIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs a real LXD daemon")
	}
	x := testenv.StartLXD(t, testenv.LXDOptions{Name: "standby", Address: "127.0.0.2"})
	port := testenv.FreePort(t)
	x.LaunchService(t, "web", port)
	x.Lxc(t, "stop", "--force", "web")
	if _, err := strategytest.Get(x.Address, port); err == nil {
		t.Fatal("stopped service still answers")
	}

	// As the receiver runs it: the built plugin binary in its own process,
	// over the handshake, gRPC and AutoMTLS.
	s := sdktest.Binary(t, sdktest.Build(t, "github.com/vcrcovery/vcrcovery/cmd/vcr-strategy-warm", "warm"))
	ctx := context.Background()
	shared := strategytest.SharedJSON(t, map[string]sdk.LXDRemote{"standby": strategytest.Remote(x)}, "")
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
	strategytest.WaitPage(t, ep.Address, ep.Port, "web\n", 15*time.Second)
	// In-process over gRPC from here on: the same shims, and faster.
	s = sdktest.GRPC(t, warm.Strategy{})

	t.Run("already running", func(t *testing.T) {
		ep, err := s.Prepare(ctx, req, nil)
		if err != nil || ep.Details["status_before"] != "Running" {
			t.Fatalf("Prepare = %+v, %v", ep, err)
		}
	})
	t.Run("abort leaves the container running", func(t *testing.T) {
		if err := s.Abort(ctx, sdk.AbortRequest{IncidentID: "i1", Service: "web", Settings: req.Settings, Shared: shared}); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		strategytest.WaitPage(t, x.Address, port, "web\n", 5*time.Second)
	})
	t.Run("another service's container", func(t *testing.T) {
		// LXD's start operation outlives Prepare by about a second, and
		// refuses config changes until it ends.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			out, err := x.LxcErr(t, "config", "set", "web", ownership.KeyService, "api")
			if err == nil {
				break
			}
			if !strings.Contains(out, "is busy") || time.Now().After(deadline) {
				t.Fatalf("mark web as api's: %v: %s", err, out)
			}
		}
		defer x.Lxc(t, "config", "unset", "web", ownership.KeyService)
		_, err := s.Prepare(ctx, req, nil)
		if err == nil || !strings.Contains(err.Error(), `belongs to service "api"`) {
			t.Fatalf("err = %v", err)
		}
		strategytest.WaitPage(t, x.Address, port, "web\n", 5*time.Second)
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
		down := strategytest.Remote(x)
		down.URL = fmt.Sprintf("https://127.0.0.1:%d", testenv.FreePort(t)) // nothing listens
		r := req
		r.Shared = strategytest.SharedJSON(t, map[string]sdk.LXDRemote{"standby": down}, "")
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
