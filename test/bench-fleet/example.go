package main

// The large-N curve: the example strategy answers at once, so the figures
// are the receiver's own cost (journal, pipeline, plugin calls, probe and
// DNS through named), without containers.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vcrcovery/vcrcovery/test/system"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// exampleRun takes one host with n services down, with replicas receivers
// (1: bbolt; 3: etcd, each getting the delivery as Alertmanager sends it to
// all of them). Given a profileDir, it records the first receiver's CPU
// profile during the run there.
func exampleRun(parent *testenv.Runner, n, replicas int, profileDir string) result {
	r := testenv.NewRunner(parent.TempDir(), parent.Logf)
	defer r.Close()
	res := result{n: n, series: "example strategy, 1 receiver (bbolt)"}
	opts := system.FleetOptions{Services: n, Replicas: replicas, Logf: r.Logf}
	if replicas > 1 {
		res.series = fmt.Sprintf("example strategy, %d receivers (etcd)", replicas)
		opts.Etcd = testenv.StartEtcdCluster(r, 3)
	}
	f := system.StartFleet(r, opts)
	var pids []int
	for _, rc := range f.Receivers {
		pids = append(pids, rc.Proc.PID)
	}
	var prof *profiler
	if profileDir != "" {
		prof = startProfile(f, profileWindow)
	}
	cpu0 := totalCPU(pids)
	t0 := time.Now()
	body := system.Down(t0, "VCRHostHeartbeatLost", map[string]string{"host": "hv0", "cloud": "c1"})
	var wg sync.WaitGroup
	for i := range f.Receivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Alertmanager retries a 5xx; so does the benchmark.
			for try := 0; ; try++ {
				code, msg := f.Post(i, body)
				if code == 200 {
					return
				}
				if try == 20 {
					r.Fatalf("receiver %d answered %d: %s", i, code, msg)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	incs := f.WaitEnded(r, 0, n, t0, 10*time.Minute)
	for _, rc := range f.Receivers {
		// Every replica must have heard of every end (the closes) before
		// its CPU is read.
		f.WaitEnded(r, indexOf(f, rc), n, t0, time.Minute)
	}
	res.cpu = totalCPU(pids) - cpu0
	for _, pid := range pids {
		res.rss = max(res.rss, peakRSS(pid))
	}
	switchTimes(&res, incs, t0)
	res.notOnce = onceEach(f.Services, f.Prepares(), f.DNS.Updates(), system.Zone)
	if replicas == 1 {
		if st, err := os.Stat(filepath.Join(f.Dir, "r0.db")); err == nil {
			res.journal = st.Size()
		}
	} else {
		res.journal = int64(metric(f.Receivers[0].URL, "vcr_receiver_journal_bytes"))
	}
	progress("%s, %d services: first %s, last %s, CPU %s, peak RSS %d MiB", res.series, n,
		res.first.Round(time.Millisecond), res.last.Round(time.Millisecond), res.cpu, res.rss>>20)
	r.Logf("%s, %d services, phases:%s", res.series, n, phaseSummary(incs))
	if prof != nil {
		res.profile = prof.summary(r, profileDir, fmt.Sprintf("receiver-%d-%d", replicas, n))
		progress("%s", res.profile)
	}
	if b, err := os.ReadFile(f.Named.Proc.Log); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "quota") || strings.Contains(l, "drop") {
				r.Logf("named: %s", l)
			}
		}
	}
	if res.notOnce > 0 {
		r.Logf("prepares %v; UPDATEs %v", f.Prepares(), f.DNS.Updates())
	}
	return res
}

func indexOf(f *system.Fleet, rc *system.FleetReceiver) int {
	for i, x := range f.Receivers {
		if x == rc {
			return i
		}
	}
	return 0
}

func totalCPU(pids []int) time.Duration {
	var d time.Duration
	for _, pid := range pids {
		d += procCPU(pid)
	}
	return d
}
