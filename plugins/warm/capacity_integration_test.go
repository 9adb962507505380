package warm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategytest"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
	"github.com/vcrcovery/vcrcovery/plugins/warm"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// TestWarmSharedStandby recovers several services onto one standby at once,
// as a host failure does: services on the same port each get an address of
// their own and answer there, and services the standby has no room for are
// not started and need attention.
func TestWarmSharedStandby(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs a real LXD daemon")
	}
	x := testenv.StartLXD(t, testenv.LXDOptions{Name: "standby", Address: "127.0.0.2"})
	ctx := context.Background()
	c, err := lxd.Connect(ctx, lxd.Config{Socket: x.Socket})
	if err != nil {
		t.Fatal(err)
	}
	// Three services on one port, as the paper's Apache servers on :80:
	// made one after another, each stopped before the next starts, since
	// all three listen on the standby's one address at first.
	port := testenv.FreePort(t)
	names := []string{"web1", "web2", "web3"}
	for _, n := range names {
		x.LaunchService(t, n, port)
		x.Lxc(t, "stop", "--force", n)
	}
	// LXD's start goes on for a second after Prepare returns; let it end
	// before the daemon shuts down.
	t.Cleanup(func() {
		for _, n := range append(names, "web4") {
			_ = strategy.RetryBusy(ctx, func() error { return c.StopInstance(ctx, n, 0) })
		}
	})
	remote := strategytest.Remote(x)
	remote.AddressPool = "127.0.1.0/24"
	s := sdktest.GRPC(t, warm.Strategy{})
	prepare := func(t *testing.T, service string, shared json.RawMessage) (sdk.Endpoint, error) {
		return s.Prepare(ctx, sdk.PrepareRequest{IncidentID: "i-" + service, Service: service, Reason: "VCRHostHeartbeatLost",
			Settings: json.RawMessage(`{"remote":"standby","proxy_device":"web"}`), Shared: shared}, nil)
	}

	t.Run("two services on one port", func(t *testing.T) {
		shared := sharedWith(t, remote, nil)
		eps := make([]sdk.Endpoint, 2)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, n := range names[:2] {
			wg.Go(func() { eps[i], errs[i] = prepare(t, n, shared) })
		}
		wg.Wait()
		for i, n := range names[:2] {
			if errs[i] != nil {
				t.Fatalf("Prepare %s: %v", n, errs[i])
			}
			if !strings.HasPrefix(eps[i].Address, "127.0.1.") || eps[i].Port != port {
				t.Fatalf("%s endpoint %s:%d, want 127.0.1.x:%d", n, eps[i].Address, eps[i].Port, port)
			}
			// DNS would point at this address: the service answers there.
			strategytest.WaitPage(t, eps[i].Address, eps[i].Port, n+"\n", 15*time.Second)
		}
		if eps[0].Address == eps[1].Address {
			t.Fatalf("both services got %s", eps[0].Address)
		}
		// The address is the service's for good: a second recovery, and the
		// instance's mark, say the same.
		again, err := prepare(t, "web1", shared)
		if err != nil || again.Address != eps[0].Address {
			t.Fatalf("second Prepare of web1: %s, %v; want %s", again.Address, err, eps[0].Address)
		}
		if inst, _, err := c.GetInstance(ctx, "web1"); err != nil || inst.Config["user.vcrcovery.address"] != eps[0].Address {
			t.Fatalf("web1's address mark: %v, %v", inst.Config, err)
		}
	})

	t.Run("standby too small", func(t *testing.T) {
		// web1 and web2 run with no limits; web3 declares more CPUs than
		// the machine has left once web4 has taken all of them.
		res, err := c.GetResources(ctx)
		if err != nil {
			t.Fatal(err)
		}
		x.LaunchService(t, "web4", testenv.FreePort(t))
		x.Lxc(t, "stop", "--force", "web4")
		all := sdk.Resources{VCPUs: float64(res.CPU.Total), MemoryBytes: 64 << 20}
		shared := sharedWith(t, remote, map[string]sdk.Resources{"web4": all, "web3": {VCPUs: 1, MemoryBytes: 64 << 20}})
		if _, err := prepare(t, "web4", shared); err != nil {
			t.Fatalf("web4 fits an idle standby: %v", err)
		}
		inst, _, err := c.GetInstance(ctx, "web4")
		if err != nil || inst.Config["limits.cpu"] != fmt.Sprint(res.CPU.Total) || inst.Config["limits.memory"] != "64MiB" {
			t.Fatalf("web4 was started without its declared limits: %v, %v", inst.Config, err)
		}
		_, err = prepare(t, "web3", shared)
		if !errors.Is(err, sdk.ErrNeedsAttention) || !strings.Contains(err.Error(), `remote "standby" has no room for web3, which needs 1 vCPUs and 64.0 MiB`) {
			t.Fatalf("web3 on a full standby: err = %v", err)
		}
		if st, err := c.GetInstanceState(ctx, "web3"); err != nil || st.Running() {
			t.Fatalf("web3 was started on a full standby: %v, %v", st, err)
		}
	})
}

// sharedWith is the shared settings of one remote plus declared resources.
func sharedWith(t *testing.T, remote sdk.LXDRemote, resources map[string]sdk.Resources) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(sdk.SharedSettings{LXDRemotes: map[string]sdk.LXDRemote{"standby": remote}, Resources: resources})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
