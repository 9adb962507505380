package strategytest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
	"github.com/vcrcovery/vcrcovery/plugins/ownership"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// The helpers below build sdktest.Fixture for the built-in strategies: the
// world a strategy changes is the instances on one or two LXD daemons.

// Client connects to x through its unix socket.
func Client(t testing.TB, x *testenv.LXD) *lxd.Client {
	t.Helper()
	c, err := lxd.Connect(context.Background(), lxd.Config{Socket: x.Socket})
	if err != nil {
		t.Fatalf("connect to LXD %s: %v", x.Name, err)
	}
	return c
}

// Instances describes every instance on the daemons, one line each:
// "<daemon> <instance> <STATUS> owner=<service>", sorted. It is the State
// of the strategies' conformance fixtures: what exists where, whether it
// serves, and whose it is. The incident mark is left out, because adopting
// an instance for an incident is part of a strategy's work that Abort need
// not take back.
func Instances(t testing.TB, daemons ...*testenv.LXD) string {
	t.Helper()
	var lines []string
	for _, x := range daemons {
		insts, err := Client(t, x).ListInstances(context.Background())
		if err != nil {
			t.Fatalf("list instances on %s: %v", x.Name, err)
		}
		for _, in := range insts {
			owner := ownership.Of(&in).Service
			if owner == "" {
				owner = "-"
			}
			lines = append(lines, fmt.Sprintf("%s %s %s owner=%s", x.Name, in.Name, strings.ToUpper(in.Status), owner))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// Running makes name run on x, unfreezing or starting it as needed.
func Running(t testing.TB, x *testenv.LXD, name string) {
	t.Helper()
	ctx := context.Background()
	c := Client(t, x)
	if err := strategy.RetryBusy(ctx, func() error {
		_, err := strategy.EnsureRunning(ctx, c, name, nil, nil)
		return err
	}); err != nil {
		t.Fatalf("make %s run on %s: %v", name, x.Name, err)
	}
}

// Stopped force-stops name on x, waiting out an operation LXD still runs
// on it (the tail of a start).
func Stopped(t testing.TB, x *testenv.LXD, name string) {
	t.Helper()
	ctx := context.Background()
	c := Client(t, x)
	if err := strategy.RetryBusy(ctx, func() error { return c.StopInstance(ctx, name, 0) }); err != nil {
		t.Fatalf("stop %s on %s: %v", name, x.Name, err)
	}
}

// Removed deletes every instance on x.
func Removed(t testing.TB, x *testenv.LXD) {
	t.Helper()
	ctx := context.Background()
	c := Client(t, x)
	insts, err := c.ListInstances(ctx)
	if err != nil {
		t.Fatalf("list instances on %s: %v", x.Name, err)
	}
	for _, in := range insts {
		if err := strategy.RemoveInstance(ctx, c, in.Name); err != nil {
			t.Fatalf("remove %s from %s: %v", in.Name, x.Name, err)
		}
	}
}
