// Command bench-e2e measures recovery time end to end on the real stack: from
// `virsh destroy` of a primary until the authoritative DNS answer for the
// service changes, and until an HTTP GET through that name succeeds. It runs
// warm and cold failovers with the fast path, then with the rule path only,
// and boots the conventional VM-based cold standby in the same run for the
// ratio. `make bench-e2e` runs it; it prints a Markdown table.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vcrcovery/vcrcovery/dnsupdate"
	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/test/system"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

func main() {
	n := flag.Int("n", 20, "failovers per strategy and detection path")
	vms := flag.Int("vm-runs", 3, "boots of the conventional VM-based cold standby")
	rulePath := flag.Bool("rule-path", true, "also measure the rule path (Prometheus, 1 s scrape and evaluation)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "vcr-bench-e2e-")
	if err != nil {
		log.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "bench.log"))
	if err != nil {
		log.Fatal(err)
	}
	detail := log.New(logFile, "", log.LstdFlags|log.Lmicroseconds)
	r := testenv.NewRunner(dir, detail.Printf)
	defer r.Close()
	fmt.Fprintf(os.Stderr, "bench-e2e: details in %s\n", logFile.Name())
	if err := r.Run(func() { bench(r, *n, *vms, *rulePath) }); err != nil {
		fmt.Fprintln(os.Stderr, "bench-e2e failed:", err)
		r.Close()
		os.Exit(1)
	}
}

type sample struct {
	dns, http time.Duration
	phases    map[string]time.Duration
}

type series struct {
	name    string
	samples []sample
}

func bench(r *testenv.Runner, n, vmRuns int, rulePath bool) {
	var all []series
	paths := []bool{true}
	if rulePath {
		paths = append(paths, false)
	}
	for _, fast := range paths {
		path := "fast path"
		if !fast {
			path = "rule path"
		}
		progress("starting the stack (%s)…", path)
		all = append(all, measurePath(r, fast, path, n)...)
	}
	vm := vmColdStandby(r, vmRuns)
	report(all, vm)
}

// measurePath fails over n warm and n cold services once each, on a stack of
// its own (stopped before the next path starts: both use the same loopback
// addresses). Each service fails once, as primaries do: a domain failing
// again within seconds would find its old Alertmanager group still there
// (groups are reaped every 30 s) and wait for group_interval, which is not
// the case being measured.
func measurePath(parent *testenv.Runner, fast bool, path string, n int) []series {
	r := testenv.NewRunner(parent.TempDir(), parent.Logf)
	defer r.Close()
	var specs []system.ServiceSpec
	for i := 1; i <= n; i++ {
		specs = append(specs, system.ServiceSpec{Name: fmt.Sprintf("web%02d", i), Strategy: "warm"},
			system.ServiceSpec{Name: fmt.Sprintf("shop%02d", i), Strategy: "cold"})
	}
	sys := system.Start(r, system.Options{
		FastPath: fast, RulePath: !fast, RuleFor: -1, Services: specs,
		Logf: func(f string, a ...any) { r.Logf(f, a...) },
	})
	if !fast {
		waitScraped(r, sys)
	}
	dc := system.DNSClient(r, sys.Named)
	warm := series{name: "warm, " + path}
	cold := series{name: "cold, " + path}
	for i := 1; i <= n; i++ {
		warm.samples = append(warm.samples, failover(r, sys, dc, fmt.Sprintf("web%02d", i)))
		cold.samples = append(cold.samples, failover(r, sys, dc, fmt.Sprintf("shop%02d", i)))
		progress("%s: %d/%d", path, i, n)
	}
	return []series{warm, cold}
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench-e2e: "+format+"\n", args...)
}

// waitScraped waits until Prometheus has scraped the exporter, so the first
// rule-path sample does not include start-up.
func waitScraped(r *testenv.Runner, sys *system.System) {
	deadline := time.Now().Add(30 * time.Second)
	for len(sys.Prom.Query(r, `up{job="vcr-exporter"} == 1`)) == 0 {
		if time.Now().After(deadline) {
			r.Fatalf("Prometheus never scraped the exporter")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
}

// failover destroys the primary and times the DNS change and the first
// successful GET through the name.
func failover(r *testenv.Runner, sys *system.System, dc *dnsupdate.Client, name string) sample {
	svc := sys.Service(r, name)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	before := sys.Resolve(r, name)
	destroyed := sys.FailPrimary(r, name)
	var s sample
	client := &http.Client{Timeout: 500 * time.Millisecond}
	for ctx.Err() == nil {
		addrs, err := dc.Lookup(ctx, svc.DNSName)
		if err == nil && len(addrs) == 1 && addrs[0].String() != strings.Join(before, "") {
			if s.dns == 0 {
				s.dns = time.Since(destroyed)
			}
			url := "http://" + net.JoinHostPort(addrs[0].String(), fmt.Sprint(svc.Port)) + "/"
			if resp, err := client.Get(url); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					s.http = time.Since(destroyed)
					break
				}
			}
		}
		time.Sleep(time.Millisecond)
	}
	inc := sys.WaitIncident(r, name, time.Minute, func(i api.Incident) bool {
		return i.Kind == api.KindFailover && system.Ended(i) && i.OpenedAt.After(destroyed.Add(-time.Second))
	})
	if inc.State != api.StateResolved || s.http == 0 {
		r.Fatalf("%s failover: incident %s %s (%s), http %s", name, inc.ID, inc.State, inc.Error, s.http)
	}
	s.phases = map[string]time.Duration{"detect": inc.OpenedAt.Sub(destroyed)}
	for _, p := range inc.Phases {
		if p.Name != api.PhaseDetect {
			s.phases[p.Name] = time.Duration(p.DurationSeconds * float64(time.Second))
		}
	}
	return s
}

// vmColdStandby boots the service as a libvirt QEMU VM (TCG) until its port
// answers, then switches DNS: the conventional cold standby.
func vmColdStandby(r *testenv.Runner, runs int) []time.Duration {
	if runs == 0 {
		return nil
	}
	lv := testenv.Libvirt(r)
	named := testenv.StartNamed(r, testenv.NamedOptions{Zone: system.Zone, Records: map[string]string{"vm": "127.0.0.10"}})
	dc := system.DNSClient(r, named)
	testenv.VMImage(r) // download and build outside the timing
	var out []time.Duration
	for i := 0; i < runs; i++ {
		begin := time.Now()
		vm := lv.StartVM(r, testenv.VMOptions{ListenAddr: fmt.Sprintf("127.0.0.20:%d", testenv.FreePort(r))})
		host, _, _ := net.SplitHostPort(vm.ListenAddr)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := dc.Replace(ctx, system.Zone, "vm."+system.Zone, 1, []netip.Addr{netip.MustParseAddr(host)})
		cancel()
		if err != nil {
			r.Fatalf("switch to VM: %v", err)
		}
		out = append(out, time.Since(begin))
		vm.Destroy(r, lv)
		progress("VM-based cold standby: %d/%d (%s)", i+1, runs, out[len(out)-1].Round(time.Millisecond))
	}
	return out
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	idx := int(p*float64(len(s)-1) + 0.5)
	return s[idx]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func report(all []series, vm []time.Duration) {
	host, _ := os.Hostname()
	fmt.Printf("\n## Recovery time, end to end (`make bench-e2e`, %s, %s)\n\n", host, time.Now().UTC().Format("2006-01-02"))
	fmt.Println("| strategy, detection | n | destroy→DNS p50 | p90 | p99 | destroy→HTTP p50 | p90 | p99 |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	medians := map[string]time.Duration{}
	for _, s := range all {
		var dns, web []time.Duration
		for _, x := range s.samples {
			dns, web = append(dns, x.dns), append(web, x.http)
		}
		medians[s.name] = pct(web, 0.5)
		fmt.Printf("| %s | %d | %s | %s | %s | %s | %s | %s |\n", s.name, len(s.samples), ms(pct(dns, .5)), ms(pct(dns, .9)), ms(pct(dns, .99)),
			ms(pct(web, .5)), ms(pct(web, .9)), ms(pct(web, .99)))
	}
	fmt.Print("\nPer-phase medians:\n\n")
	fmt.Println("| strategy, detection | detect | fence | prepare | verify | switch |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, s := range all {
		row := []string{s.name}
		for _, ph := range []string{"detect", "fence", "prepare", "verify", "switch"} {
			var d []time.Duration
			for _, x := range s.samples {
				d = append(d, x.phases[ph])
			}
			row = append(row, ms(pct(d, .5)))
		}
		fmt.Printf("| %s |\n", strings.Join(row, " | "))
	}
	if len(vm) > 0 {
		vmMedian := pct(vm, .5)
		fmt.Printf("\nConventional VM-based cold standby (QEMU TCG boot until the port answers, then the DNS switch), %d runs: median %s.\n", len(vm), ms(vmMedian))
		if c := medians["cold, fast path"]; c > 0 {
			fmt.Printf("Cold standby in a container vs. in a VM, destroy→HTTP medians: %s vs %s = **%.1f× faster**.\n", ms(c), ms(vmMedian), float64(vmMedian)/float64(c))
		}
	}
}
