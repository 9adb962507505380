package scaleup

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategytest"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// Two services on one port, each at its own address on the standby, keep
// an address of their own on the bigger VM after a scale-up: one from the
// target's pool, one from target_address. A bigger VM without room for a
// service's declared resources is refused before anything moves.
func TestScaleupKeepsOwnAddresses(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs two real LXD daemons")
	}
	p := startPair(t)
	ctx := context.Background()
	port := testenv.FreePort(t)
	for i, n := range []string{"web1", "web2"} {
		p.standby.LaunchService(t, n, testenv.FreePort(t))
		// Each at its own standby address, both on one port.
		p.standby.Lxc(t, "config", "device", "set", n, "web", "listen=tcp:127.0.1."+strconv.Itoa(i+1)+":"+strconv.Itoa(port))
		strategytest.WaitPage(t, "127.0.1."+strconv.Itoa(i+1), port, n+"\n", 10*time.Second)
	}
	sb, big := strategytest.Remote(p.standby), strategytest.Remote(p.bigvm)
	sb.AddressPool, big.AddressPool = "127.0.1.0/24", "127.0.3.0/24"
	shared := func(res map[string]sdk.Resources) json.RawMessage {
		b, _ := json.Marshal(sdk.SharedSettings{LXDRemotes: map[string]sdk.LXDRemote{"standby": sb, "bigvm": big}, Resources: res})
		return b
	}
	settings := func(extra string) json.RawMessage {
		return json.RawMessage(`{"source":"standby","target":"bigvm","live":"off","proxy_device":"web","sample_interval":"50ms"` + extra + `}`)
	}
	s := &Strategy{}

	t.Run("no room on the target", func(t *testing.T) {
		bigc, err := lxd.Connect(ctx, lxd.Config{Socket: p.bigvm.Socket})
		if err != nil {
			t.Fatal(err)
		}
		res, err := bigc.GetResources(ctx)
		if err != nil {
			t.Fatal(err)
		}
		req := sdk.PrepareRequest{IncidentID: "i0", Service: "web1", Settings: settings(""),
			Shared: shared(map[string]sdk.Resources{"web1": {VCPUs: float64(res.CPU.Total) + 1}})}
		_, err = s.Prepare(ctx, req, nil)
		if !errors.Is(err, sdk.ErrNeedsAttention) || !strings.Contains(err.Error(), `remote "bigvm" has no room for web1`) {
			t.Fatalf("err = %v", err)
		}
		strategytest.WaitPage(t, "127.0.1.1", port, "web1\n", 5*time.Second)
	})

	ep1, err := s.Prepare(ctx, sdk.PrepareRequest{IncidentID: "i1", Service: "web1", Settings: settings(""), Shared: shared(nil)}, nil)
	if err != nil {
		t.Fatalf("scale-up of web1: %v", err)
	}
	ep2, err := s.Prepare(ctx, sdk.PrepareRequest{IncidentID: "i2", Service: "web2", Settings: settings(`,"target_address":"127.0.4.2"`), Shared: shared(nil)}, nil)
	if err != nil {
		t.Fatalf("scale-up of web2: %v", err)
	}
	if !strings.HasPrefix(ep1.Address, "127.0.3.") || ep2.Address != "127.0.4.2" || ep1.Port != port || ep2.Port != port {
		t.Fatalf("endpoints %s:%d and %s:%d; want 127.0.3.x:%d and 127.0.4.2:%d", ep1.Address, ep1.Port, ep2.Address, ep2.Port, port, port)
	}
	strategytest.WaitPage(t, ep1.Address, port, "web1\n", 10*time.Second)
	strategytest.WaitPage(t, ep2.Address, port, "web2\n", 10*time.Second)
}
