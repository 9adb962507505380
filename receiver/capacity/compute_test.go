package capacity

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
)

// fleet: two hosts in one cloud. h1 runs web (warm) and shop and db (cold;
// db may overflow to the bigger VM); h2 runs app, whose warm container
// already runs on the standby, and tool, which declares nothing.
const fleet = `
dns_servers:
  - {name: main, address: "127.0.0.1:5353", key_name: k., secret_file: /dev/null}
lxd_remotes:
  standby: {socket: /s.sock, address: 127.0.0.2, address_pool: 127.0.1.0/24}
  bigger: {socket: /b.sock, address: 127.0.0.3}
services:
  - name: web
    primary: {domain: web, address: 10.0.0.1, port: 80, host: {name: h1, cloud: c1}}
    strategy: {name: warm, settings: {remote: standby}}
    dns: {name: web.example.test., zone: example.test.}
    resources: {vcpus: 2, memory: 2GiB}
  - name: shop
    primary: {domain: shop, address: 10.0.0.2, port: 80, host: {name: h1, cloud: c1}}
    strategy: {name: cold, settings: {remote: standby}}
    dns: {name: shop.example.test., zone: example.test.}
    resources: {vcpus: 1, memory: 1GiB}
  - name: db
    primary: {domain: db, address: 10.0.0.3, port: 3306, host: {name: h1, cloud: c1}}
    strategy: {name: cold, settings: {remote: standby, overflow_remote: bigger}}
    dns: {name: db.example.test., zone: example.test.}
    resources: {vcpus: 2, memory: 4GiB}
  - name: app
    primary: {domain: app, address: 10.0.0.4, port: 80, host: {name: h2, cloud: c1}}
    strategy: {name: warm, settings: {remote: standby, instance: app-standby}}
    dns: {name: app.example.test., zone: example.test.}
    resources: {vcpus: 1, memory: 1GiB}
  - name: tool
    primary: {domain: tool, address: 10.0.0.5, port: 8080, host: {name: h2, cloud: c1}}
    strategy: {name: cold, settings: {remote: standby}}
    dns: {name: tool.example.test., zone: example.test.}
`

func parse(t *testing.T, yml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// machines: the standby has 4 CPUs and 8 GiB to promise, of which app's
// running container holds 1 and 1 GiB; the bigger VM is idle.
func machines() map[string]*lxd.Allocation {
	return map[string]*lxd.Allocation{
		"standby": {CPUs: 4, Memory: 8 << 30, Instances: []lxd.InstanceAllocation{
			{Name: "app-standby", Active: true, CPUs: 1, CPULimited: true, Memory: 1 << 30, MemoryLimited: true},
			{Name: "web", Status: "Stopped"},
		}},
		"bigger": {CPUs: 8, Memory: 16 << 30},
	}
}

func find(t *testing.T, c api.Capacity, scope, name string) api.CapacityScope {
	t.Helper()
	for _, s := range c.Scopes {
		if s.Scope == scope && s.Name == name {
			return s
		}
	}
	t.Fatalf("no %s %s in %+v", scope, name, c.Scopes)
	return api.CapacityScope{}
}

func TestCompute(t *testing.T) {
	cfg := parse(t, fleet)
	in := Input{Config: cfg, Allocations: machines(), Errors: map[string]error{}, Seconds: map[string]float64{"warm": 0.1, "cold": 2},
		Concurrency: func(string) int { return 2 }, Now: time.Unix(1700000000, 0)}
	c := Compute(in)
	if len(c.Scopes) != 3 || c.Scopes[0].Name != "h1" || c.Scopes[1].Name != "h2" || c.Scopes[2].Scope != api.ScopeCloud {
		t.Fatalf("scopes: %+v", c.Scopes)
	}

	// h1: web (2, 2 GiB) and shop (1, 1 GiB) fit the standby's 3 free CPUs;
	// db (2, 4 GiB) then overflows to the bigger VM.
	h1 := find(t, c, api.ScopeHost, "h1")
	if !h1.Fits || h1.ShortfallVCPUs != 0 || len(h1.Targets) != 2 {
		t.Fatalf("h1 = %+v", h1)
	}
	if sb := h1.Targets[1]; sb.Remote != "standby" || strings.Join(sb.Services, ",") != "shop,web" || sb.NeedVCPUs != 3 || sb.FreeVCPUs != 3 {
		t.Errorf("h1 on the standby = %+v", sb)
	}
	if big := h1.Targets[0]; big.Remote != "bigger" || strings.Join(big.Services, ",") != "db" || big.NeedMemoryBytes != 4<<30 {
		t.Errorf("h1 on the bigger VM = %+v", big)
	}
	// The standby prepares web (0.1 s) and shop (2 s) two at a time: 2 s.
	if h1.RecoverySeconds != 2 {
		t.Errorf("h1 estimate = %v", h1.RecoverySeconds)
	}

	// h2: app runs already; tool declares nothing and is not counted.
	h2 := find(t, c, api.ScopeHost, "h2")
	if !h2.Fits || strings.Join(h2.Undeclared, ",") != "tool" || strings.Join(h2.Targets[0].Running, ",") != "app" || h2.Targets[0].NeedVCPUs != 0 {
		t.Errorf("h2 = %+v", h2)
	}

	// The cloud: everything at once. The standby has 3 CPUs and 7 GiB for
	// web, shop and tool: it fits; db goes to the bigger VM.
	c1 := find(t, c, api.ScopeCloud, "c1")
	if !c1.Fits || strings.Join(c1.Services, ",") != "app,db,shop,tool,web" {
		t.Errorf("c1 = %+v", c1)
	}
	// Five prepares over two lanes on the standby (0.1+2+2+0.1)/2 = 2.1 s.
	if math.Abs(c1.RecoverySeconds-2.1) > 1e-9 {
		t.Errorf("c1 estimate = %v", c1.RecoverySeconds)
	}
	if r := c.Remotes[1]; r.Name != "standby" || r.UsedVCPUs != 1 || r.Concurrency != 2 {
		t.Errorf("remotes = %+v", c.Remotes)
	}
}

func TestComputeShortfall(t *testing.T) {
	// Without the bigger VM, db has nowhere to go: 2 vCPUs and 0 bytes
	// short (the standby has 7 GiB for 7 GiB).
	cfg := parse(t, strings.Replace(fleet, "overflow_remote: bigger", "instance: db", 1))
	c := Compute(Input{Config: cfg, Allocations: machines(), Now: time.Now()})
	h1 := find(t, c, api.ScopeHost, "h1")
	if h1.Fits || h1.ShortfallVCPUs != 2 || h1.ShortfallMemoryBytes != 0 || h1.Targets[0].Fits {
		t.Fatalf("h1 = %+v", h1)
	}
	if h2 := find(t, c, api.ScopeHost, "h2"); !h2.Fits {
		t.Errorf("h2 = %+v", h2)
	}
	// One prepare at a time (no concurrency given): 0.1 + 2 + 2 s, with the
	// documented figures.
	if math.Abs(h1.RecoverySeconds-(WarmSeconds+2*ColdSeconds)) > 1e-9 {
		t.Errorf("h1 estimate = %v", h1.RecoverySeconds)
	}

	// A standby that cannot be read answers no, and says why.
	c = Compute(Input{Config: cfg, Allocations: map[string]*lxd.Allocation{}, Errors: map[string]error{"standby": errors.New("connection refused")}, Now: time.Now()})
	h2 := find(t, c, api.ScopeHost, "h2")
	if h2.Fits || len(h2.Problems) != 1 || !strings.Contains(h2.Problems[0], "remote standby could not be read: connection refused") {
		t.Fatalf("h2 with the standby down = %+v", h2)
	}
}

func TestSecondsPerService(t *testing.T) {
	inc := func(strategy string, secs float64, outcome string) api.Incident {
		return api.Incident{Strategy: strategy, Kind: api.KindFailover,
			Phases: []api.Phase{{Name: api.PhasePrepare, Outcome: outcome, DurationSeconds: secs}}}
	}
	got := SecondsPerService([]api.Incident{inc("cold", 0.5, api.OutcomeOK), inc("cold", 0.7, api.OutcomeOK), inc("cold", 9, api.OutcomeFailed), inc("cold", 0.6, api.OutcomeOK), inc("scaleup", 1.5, api.OutcomeOK)})
	if got["cold"] != 0.6 || secondsFor(got, "warm") != WarmSeconds || got["scaleup"] != 1.5 || secondsFor(got, "example") != DefaultSeconds {
		t.Errorf("SecondsPerService = %v", got)
	}
	if d := drain([]float64{1, 1, 1, 5}, 4); d != 5 {
		t.Errorf("drain = %v, want the longest, 5", d)
	}
}
