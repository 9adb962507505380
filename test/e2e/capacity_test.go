package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
	"github.com/vcrcovery/vcrcovery/test/system"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// TestSharedStandby: two services on one port fail and are recovered onto
// one standby, each at an address of its own that DNS then names; a third
// service the standby has no room for is not started there, and its
// incident needs attention, which the capacity view foresaw.
func TestSharedStandby(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts libvirtd, LXD, named, Alertmanager, exporter and receiver")
	}
	// Each service declares 35% of the machine's memory: two fit the
	// standby, three do not (the daemons here all run on one machine).
	memory := fmt.Sprintf("%dMiB", memTotal(t)*35/100>>20)
	res := &system.Resources{Memory: memory}
	port := testenv.FreePort(t) // www1's and www2's, as :80 is two web servers'
	sys := system.Start(t, system.Options{
		FastPath:    true,
		AddressPool: "127.0.7.0/24",
		Services: []system.ServiceSpec{
			{Name: "www1", Strategy: "cold", Port: port, Host: "hv-a", Resources: res},
			{Name: "www2", Strategy: "cold", Port: port, Host: "hv-a", Resources: res},
			{Name: "hog", Strategy: "cold", Port: testenv.FreePort(t), Host: "hv-b", Resources: res},
		},
	})

	t.Run("capacity foreseen", func(t *testing.T) {
		c := capacity(t, sys)
		for scope, want := range map[string]bool{"host/hv-a": true, "host/hv-b": true, "cloud/lab": false} {
			if s := scopeOf(t, c, scope); s.Fits != want || (!want && s.ShortfallMemoryBytes <= 0) {
				t.Errorf("%s: fits %v, short %d bytes; want fits %v", scope, s.Fits, s.ShortfallMemoryBytes, want)
			}
		}
		// The estimate drains each remote as the pipeline would.
		for _, r := range c.Remotes {
			if r.Concurrency != config.DefaultMaxConcurrentPrepares {
				t.Errorf("remote %s: estimated with %d prepares at once, want the pipeline's %d", r.Name, r.Concurrency, config.DefaultMaxConcurrentPrepares)
			}
		}
	})

	t.Run("two services on one port", func(t *testing.T) {
		for _, n := range []string{"www1", "www2"} {
			sys.FailPrimary(t, n)
		}
		addrs := map[string]string{}
		for _, n := range []string{"www1", "www2"} {
			inc := sys.WaitIncident(t, n, 90*time.Second, func(i api.Incident) bool { return system.Ended(i) })
			if inc.State != api.StateResolved {
				t.Fatalf("%s ended %s: %s", n, inc.State, inc.Error)
			}
			got := sys.Resolve(t, n)
			if len(got) != 1 || !strings.HasPrefix(got[0], "127.0.7.") {
				t.Fatalf("%s resolves to %v, want its own address in 127.0.7.0/24", n, got)
			}
			addrs[n] = got[0]
			if page, err := sys.Get(t, n); err != nil || page != n+"\n" {
				t.Fatalf("%s through DNS: %q, %v", n, page, err)
			}
			// Limited to what it declared, as it was promised.
			if lim := strings.TrimSpace(sys.Standby.Lxc(t, "config", "get", n, "limits.memory")); lim != memory {
				t.Errorf("%s runs with limits.memory %q, want %s", n, lim, memory)
			}
		}
		if addrs["www1"] == addrs["www2"] {
			t.Fatalf("both services at %s", addrs["www1"])
		}
		t.Logf("www1 at %s:%d, www2 at %s:%d", addrs["www1"], port, addrs["www2"], port)
	})

	t.Run("standby too small", func(t *testing.T) {
		if s := scopeOf(t, capacity(t, sys), "host/hv-b"); s.Fits {
			t.Errorf("with www1 and www2 on the standby, hv-b still fits: %+v", s)
		}
		sys.FailPrimary(t, "hog")
		inc := sys.WaitIncident(t, "hog", 90*time.Second, func(i api.Incident) bool { return system.Ended(i) })
		if inc.State != api.StateNeedsAttention || !strings.Contains(inc.Error, `remote "standby" has no room for hog`) {
			t.Fatalf("hog ended %s: %s", inc.State, inc.Error)
		}
		if p := inc.Phase(api.PhasePrepare); p == nil || p.Attempts != 1 {
			t.Errorf("prepare phase %+v, want one attempt: retrying cannot make room", p)
		}
		t.Logf("hog: %s", inc.Error)
		if out, err := sys.Standby.LxcErr(t, "info", "hog"); err == nil {
			t.Errorf("hog was started on a full standby:\n%s", out)
		}
		for _, n := range []string{"www1", "www2"} {
			if page, err := sys.Get(t, n); err != nil || page != n+"\n" {
				t.Errorf("%s after hog's refusal: %q, %v", n, page, err)
			}
		}
	})
}

func capacity(t *testing.T, sys *system.System) api.Capacity {
	t.Helper()
	// The view reuses its answer for a while; wait out an old one.
	time.Sleep(system.CapacityMaxAge + 100*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sys.Client.Capacity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func scopeOf(t *testing.T, c api.Capacity, key string) api.CapacityScope {
	t.Helper()
	for _, s := range c.Scopes {
		if s.Scope+"/"+s.Name == key {
			return s
		}
	}
	t.Fatalf("no %s in the capacity view: %+v", key, c.Scopes)
	return api.CapacityScope{}
}

// memTotal is the machine's memory, as LXD's /1.0/resources reports it.
func memTotal(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb int64
		if _, err := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); err == nil {
			return kb << 10
		}
	}
	t.Fatal("no MemTotal in /proc/meminfo")
	return 0
}
