package strategy_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// Claims made at the same moment, as a mass failover makes them, never
// collide: each pool address goes to one instance, each instance keeps its
// address, a full pool or a full machine is an error that needs attention,
// and no more room is reserved than the machine has.
func TestLedgerUnderConcurrentClaims(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs a real LXD daemon")
	}
	x := testenv.StartLXD(t, testenv.LXDOptions{Name: "standby", NoImage: true})
	ctx := context.Background()
	c, err := lxd.Connect(ctx, lxd.Config{Socket: x.Socket})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("addresses", func(t *testing.T) {
		// A /28 has 14 usable addresses; the VM's own address is in it.
		remote := sdk.LXDRemote{Address: "127.0.1.1", AddressPool: "127.0.1.0/28"}
		const claims = 20
		got := make([]string, claims)
		errs := make([]error, claims)
		var wg sync.WaitGroup
		for i := range claims {
			wg.Go(func() {
				got[i], _, errs[i] = strategy.ServiceAddress(ctx, c, "standby", remote, fmt.Sprintf("svc%d", i), "", "")
			})
		}
		wg.Wait()
		owner := map[string]int{}
		full := 0
		for i := range claims {
			if errs[i] != nil {
				if !errors.Is(errs[i], sdk.ErrNeedsAttention) {
					t.Fatalf("svc%d: %v", i, errs[i])
				}
				full++
				continue
			}
			a := netip.MustParseAddr(got[i])
			if o, dup := owner[got[i]]; dup {
				t.Fatalf("svc%d and svc%d both got %s", o, i, a)
			}
			if !netip.MustParsePrefix("127.0.1.0/28").Contains(a) || got[i] == "127.0.1.0" || got[i] == "127.0.1.15" || got[i] == "127.0.1.1" {
				t.Fatalf("svc%d got %s: outside the pool, its network, broadcast or the VM's address", i, a)
			}
			owner[got[i]] = i
		}
		if len(owner) != 13 || full != claims-13 {
			t.Fatalf("%d addresses handed out and %d refused; want 13 and %d", len(owner), full, claims-13)
		}
		for a, i := range owner {
			again, own, err := strategy.ServiceAddress(ctx, c, "standby", remote, fmt.Sprintf("svc%d", i), "", "")
			if err != nil || again != a || !own {
				t.Fatalf("svc%d claimed again: %s, %v, %v; want %s", i, again, own, err, a)
			}
		}
	})

	t.Run("room", func(t *testing.T) {
		res, err := c.GetResources(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cpus := res.CPU.Total
		claims := 2*cpus + 1
		errs := make([]error, claims)
		var wg sync.WaitGroup
		for i := range claims {
			wg.Go(func() {
				_, errs[i] = strategy.Reserve(ctx, c, "standby", fmt.Sprintf("big%d", i), sdk.Resources{VCPUs: 1, MemoryBytes: 1 << 20})
			})
		}
		wg.Wait()
		granted := 0
		for _, err := range errs {
			switch {
			case err == nil:
				granted++
			case !errors.Is(err, sdk.ErrNeedsAttention):
				t.Fatal(err)
			}
		}
		if granted != cpus {
			t.Fatalf("%d reservations of 1 vCPU granted on a %d-CPU machine", granted, cpus)
		}
		// A reservation dropped frees its room for the next one.
		if err := strategy.Unreserve(ctx, c, findGranted(errs)); err != nil {
			t.Fatal(err)
		}
		if _, err := strategy.Reserve(ctx, c, "standby", "late", sdk.Resources{VCPUs: 1}); err != nil {
			t.Fatalf("after an unreserve: %v", err)
		}
		if _, err := strategy.Reserve(ctx, c, "standby", "later", sdk.Resources{VCPUs: 1}); !errors.Is(err, sdk.ErrNeedsAttention) {
			t.Fatalf("a full machine took one more: err = %v", err)
		}
	})
}

func findGranted(errs []error) string {
	for i, err := range errs {
		if err == nil {
			return fmt.Sprintf("big%d", i)
		}
	}
	return ""
}
