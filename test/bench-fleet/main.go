// Command bench-fleet measures mass failover: one host down with N
// services, the alert reaching a receiver, every service switched. It runs
// the example strategy (a command that answers at once) for the large-N
// curve, once with one receiver on bbolt and once with three replicas on
// etcd, and real LXD containers (warm: already running; cold: restored from
// a backup) with one receiver. It prints a Markdown report and writes the
// curve as an SVG. `make bench-fleet` runs it.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vcrcovery/vcrcovery/test/testenv"
)

func main() {
	example := flag.String("example", "10,50,200,1000", "service counts for the example strategy (one receiver, then three on etcd)")
	warm := flag.String("warm", "10,50,200", "service counts for warm LXD containers (one receiver); empty: none")
	cold := flag.String("cold", "10,50", "service counts for cold LXD containers (one receiver); empty: none")
	ha := flag.Bool("ha", true, "also run the example strategy with three receivers on etcd")
	profile := flag.Bool("profile", true, "record the receiver's CPU profile during the largest example-strategy run of each series")
	runs := flag.Int("runs", 3, "runs per example-strategy point (the median is reported)")
	limits := flag.String("limits", "0", "pipeline.max_concurrent_prepares for the LXD runs, one run per value (0: the receiver's default)")
	svg := flag.String("svg", "docs/fleet-failover.svg", "where to write the curve (relative to the module root)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "vcr-bench-fleet-")
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
	fmt.Fprintf(os.Stderr, "bench-fleet: details in %s\n", logFile.Name())
	plan := plan{example: counts(*example), warm: counts(*warm), cold: counts(*cold), limits: counts(*limits), ha: *ha, runs: *runs, profile: *profile, dir: dir}
	var results, profiles []result
	if err := r.Run(func() { results, profiles = bench(r, plan) }); err != nil {
		fmt.Fprintln(os.Stderr, "bench-fleet failed:", err)
		r.Close()
		os.Exit(1)
	}
	report(os.Stdout, results)
	reportProfiles(os.Stdout, profiles)
	if *svg != "" {
		path := *svg
		if !filepath.IsAbs(path) {
			path = filepath.Join(testenv.ModuleRoot(r), path)
		}
		if err := os.WriteFile(path, []byte(curveSVG(results)), 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Fprintf(os.Stderr, "bench-fleet: curve written to %s\n", path)
	}
}

type plan struct {
	example, warm, cold, limits []int
	ha, profile                 bool
	runs                        int
	dir                         string // kept after the run: the log and the profiles
}

func counts(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			log.Fatalf("bench-fleet: %q is not a service count", f)
		}
		out = append(out, n)
	}
	return out
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench-fleet: "+format+"\n", args...)
}

// bench runs the plan; profiled runs come back apart from the timed ones.
func bench(r *testenv.Runner, p plan) (out, profiles []result) {
	replicas := []int{1}
	if p.ha {
		replicas = append(replicas, 3)
	}
	for _, k := range replicas {
		for _, n := range p.example {
			out = append(out, median(repeat(p.runs, func() result { return exampleRun(r, n, k, "") })))
		}
		// The profiled run is one more, apart from the timed ones: the
		// profiler's own cost stays out of the figures.
		if p.profile && len(p.example) > 0 {
			profiles = append(profiles, exampleRun(r, slices.Max(p.example), k, p.dir))
		}
	}
	for _, limit := range p.limits {
		for _, n := range p.warm {
			out = append(out, lxdRun(r, n, "warm", limit))
		}
		for _, n := range p.cold {
			out = append(out, lxdRun(r, n, "cold", limit))
		}
	}
	return out, profiles
}

func repeat(n int, f func() result) []result {
	out := make([]result, 0, n)
	for range n {
		out = append(out, f())
	}
	return out
}
