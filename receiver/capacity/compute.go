package capacity

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
)

// Input is everything one answer is computed from.
type Input struct {
	Config *config.Config
	// Allocations are the remotes' machines and instances, by lxd_remotes
	// name; Errors say why a remote could not be read.
	Allocations map[string]*lxd.Allocation
	Errors      map[string]error
	// Seconds is the prepare time of one service, by strategy
	// (SecondsPerService).
	Seconds map[string]float64
	// Concurrency is how many prepares run on one remote at once.
	Concurrency func(remote string) int
	Now         time.Time
}

// target is where a service recovers, as its strategy settings say.
type target struct {
	remote, instance, overflow string
}

// targetOf reads the service's standby from its strategy settings, the way
// the built-in strategies name it: `remote` (warm, cold; `overflow_remote`
// for cold's bigger VM) or `source` (alias `from`) for a scale-up used as
// the failover strategy; the instance is `instance` (alias `container`) or
// the service's name.
func targetOf(s config.Service) target {
	str := func(keys ...string) string {
		for _, k := range keys {
			if v, ok := s.Strategy.Settings[k].(string); ok && v != "" {
				return v
			}
		}
		return ""
	}
	t := target{remote: str("remote", "source", "from"), instance: str("instance", "container"), overflow: str("overflow_remote")}
	if t.instance == "" {
		t.instance = s.Name
	}
	return t
}

// Compute answers for every host and cloud of in.Config.
func Compute(in Input) api.Capacity {
	out := api.Capacity{GeneratedAt: in.Now, Scopes: []api.CapacityScope{}, Remotes: []api.CapacityRemote{}}
	names := make([]string, 0, len(in.Config.LXDRemotes))
	for n := range in.Config.LXDRemotes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := api.CapacityRemote{Name: n, Concurrency: concurrency(in, n)}
		if a := in.Allocations[n]; a != nil {
			r.VCPUs, r.MemoryBytes = a.CPUs, a.Memory
			r.UsedVCPUs, r.UsedMemoryBytes = a.Used("")
			for _, i := range a.Instances {
				if i.Active && !i.CPULimited {
					r.UnlimitedRunning++
				}
			}
		}
		if err := in.Errors[n]; err != nil {
			r.Error = err.Error()
		}
		out.Remotes = append(out.Remotes, r)
	}
	hosts, clouds := map[string][]config.Service{}, map[string][]config.Service{}
	for _, s := range in.Config.Services {
		if h := s.Primary.Host.Name; h != "" {
			hosts[h] = append(hosts[h], s)
		}
		if c := s.Primary.Host.Cloud; c != "" {
			clouds[c] = append(clouds[c], s)
		}
	}
	for _, g := range []struct {
		scope  string
		groups map[string][]config.Service
	}{{api.ScopeHost, hosts}, {api.ScopeCloud, clouds}} {
		keys := make([]string, 0, len(g.groups))
		for k := range g.groups {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out.Scopes = append(out.Scopes, scope(in, g.scope, k, g.groups[k]))
		}
	}
	return out
}

func concurrency(in Input, remote string) int {
	if in.Concurrency == nil {
		return 1
	}
	return max(in.Concurrency(remote), 1)
}

// scope answers for one host or cloud whose services are svcs.
func scope(in Input, kind, name string, svcs []config.Service) api.CapacityScope {
	// Services that have a bigger VM to overflow to are placed last, so
	// that the standby's room goes first to those that have nowhere else.
	sort.Slice(svcs, func(i, j int) bool {
		oi, oj := targetOf(svcs[i]).overflow != "", targetOf(svcs[j]).overflow != ""
		if oi != oj {
			return oj
		}
		return svcs[i].Name < svcs[j].Name
	})
	sc := api.CapacityScope{Scope: kind, Name: name, Fits: true, Targets: []api.CapacityTarget{}}
	targets := map[string]*api.CapacityTarget{}
	free := map[string]*[2]float64{} // remote → free vCPUs, free bytes, left after what is placed
	get := func(remote string) (*api.CapacityTarget, bool) {
		t, ok := targets[remote]
		if !ok {
			t = &api.CapacityTarget{Remote: remote, Services: []string{}}
			targets[remote] = t
			if a := in.Allocations[remote]; a != nil {
				c, m := a.Used("")
				t.FreeVCPUs, t.FreeMemoryBytes = a.CPUs-c, a.Memory-m
				free[remote] = &[2]float64{t.FreeVCPUs, float64(t.FreeMemoryBytes)}
			}
		}
		return t, free[remote] != nil
	}
	seconds := map[string][]float64{}
	for _, s := range svcs {
		tg := targetOf(s)
		if tg.remote == "" {
			sc.Problems = append(sc.Problems, fmt.Sprintf("%s: its strategy settings name no LXD remote; not counted", s.Name))
			continue
		}
		t, readable := get(tg.remote)
		if !readable {
			t.Services = append(t.Services, s.Name) // reported once per remote below
			continue
		}
		if ia := in.Allocations[tg.remote].Instance(tg.instance); ia != nil && ia.Active {
			// A warm standby that runs already holds its room.
			t.Services = append(t.Services, s.Name)
			t.Running = append(t.Running, s.Name)
			seconds[tg.remote] = append(seconds[tg.remote], secondsFor(in.Seconds, s.Strategy.Name))
			continue
		}
		var need [2]float64
		if r := s.Resources; r != nil {
			need = [2]float64{r.VCPUs, float64(r.MemoryBytes)}
		} else {
			sc.Undeclared = append(sc.Undeclared, s.Name)
		}
		place := tg.remote
		if !fits(free[place], need) && tg.overflow != "" {
			if _, ok := get(tg.overflow); ok && fits(free[tg.overflow], need) {
				place = tg.overflow
			}
		}
		t, _ = get(place)
		t.Services = append(t.Services, s.Name)
		t.NeedVCPUs += need[0]
		t.NeedMemoryBytes += int64(need[1])
		free[place][0] -= need[0]
		free[place][1] -= need[1]
		seconds[place] = append(seconds[place], secondsFor(in.Seconds, s.Strategy.Name))
	}
	for _, s := range svcs {
		sc.Services = append(sc.Services, s.Name)
	}
	sort.Strings(sc.Services)
	for _, t := range targets {
		sort.Strings(t.Services)
	}
	remotes := make([]string, 0, len(targets))
	for r := range targets {
		remotes = append(remotes, r)
	}
	sort.Strings(remotes)
	for _, r := range remotes {
		t := targets[r]
		if len(t.Services) == 0 {
			continue // an overflow remote nothing went to
		}
		if free[r] == nil {
			sc.Fits = false
			why := "not read yet"
			if err := in.Errors[r]; err != nil {
				why = err.Error()
			}
			sc.Problems = append(sc.Problems, fmt.Sprintf("remote %s could not be read: %s", r, why))
			sc.Targets = append(sc.Targets, *t)
			continue
		}
		shortC := math.Max(0, t.NeedVCPUs-t.FreeVCPUs)
		shortM := max(0, t.NeedMemoryBytes-t.FreeMemoryBytes)
		t.Fits = shortC < 1e-9 && shortM == 0
		if !t.Fits {
			sc.Fits = false
			sc.ShortfallVCPUs += shortC
			sc.ShortfallMemoryBytes += shortM
		}
		t.RecoverySeconds = drain(seconds[r], concurrency(in, r))
		sc.RecoverySeconds = math.Max(sc.RecoverySeconds, t.RecoverySeconds)
		sc.Targets = append(sc.Targets, *t)
	}
	return sc
}

// fits reports whether need fits what is left; nothing fits an unreadable
// remote.
func fits(left *[2]float64, need [2]float64) bool {
	return left != nil && need[0] <= left[0]+1e-9 && need[1] <= left[1]
}

// drain is how long prepares of the given durations take, n at a time: the
// total spread over n lanes, but never less than the longest one.
func drain(durations []float64, n int) float64 {
	var sum, longest float64
	for _, d := range durations {
		sum += d
		longest = math.Max(longest, d)
	}
	return math.Max(sum/float64(max(n, 1)), longest)
}
