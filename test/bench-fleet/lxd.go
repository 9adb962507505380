package main

// Real containers: the whole stack of test/system (libvirt test-driver
// primaries on one host, named, the standby LXD, one vcr-receiver with the
// warm and cold strategy plugins), with every service's primary on host
// hv-test. One VCRHostHeartbeatLost names them all; fencing destroys each
// primary through libvirt, the warm strategy finds its container running
// (cold: restores it from its backup and starts it), the probe checks its
// page, and named switches its record.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/test/system"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// lxdRun takes the host of n warm or cold services down, with at most
// limit prepares at once on the standby (0: the receiver's default).
func lxdRun(parent *testenv.Runner, n int, strategy string, limit int) result {
	r := testenv.NewRunner(parent.TempDir(), parent.Logf)
	defer r.Close()
	res := result{n: n, series: fmt.Sprintf("%s LXD containers, 1 receiver (bbolt)", strategy)}
	if limit > 0 {
		res.series += fmt.Sprintf(", %d prepares at once", limit)
	}
	var specs []system.ServiceSpec
	for i := range n {
		specs = append(specs, system.ServiceSpec{Name: fmt.Sprintf("%s%03d", strategy, i), Strategy: strategy})
	}
	progress("starting %d %s containers…", n, strategy)
	begin := time.Now()
	// Addresses and ports of their own: the e2e tests of test/system may
	// run beside the benchmark on a shared machine.
	sys := system.Start(r, system.Options{Services: specs, MaxConcurrentPrepares: limit, Logf: r.Logf,
		PrimaryNet: "127.0.4.", PortBase: 28080})
	progress("stack up in %s", time.Since(begin).Round(time.Second))
	for _, s := range sys.Services {
		s.StopListener() // the primaries die with their host
	}
	pid := sys.ReceiverProc.PID
	cpu0 := procCPU(pid)
	t0 := time.Now()
	body := system.Down(t0, "VCRHostHeartbeatLost", map[string]string{"host": sys.Opts.Host, "cloud": sys.Opts.Cloud})
	if code := postBearer(sys.ReceiverURL, sys.ReceiverToken, body); code != 200 {
		r.Fatalf("receiver answered %d", code)
	}
	incs := waitEnded(r, sys.Client, n, t0, 10*time.Minute)
	res.cpu = procCPU(pid) - cpu0
	res.rss = peakRSS(pid)
	switchTimes(&res, incs, t0)
	for i := range incs {
		for _, ph := range []string{api.PhasePrepare, api.PhaseSwitch} {
			if p := incs[i].Phase(ph); p == nil || p.Attempts != 1 {
				res.notOnce++
				break
			}
		}
	}
	if st, err := os.Stat(filepath.Join(sys.Dir, "journal.db")); err == nil {
		res.journal = st.Size()
	}
	progress("%s, %d services: first %s, last %s, CPU %s, peak RSS %d MiB", res.series, n,
		res.first.Round(time.Millisecond), res.last.Round(time.Millisecond), res.cpu, res.rss>>20)
	r.Logf("%s, %d services, phases:%s", res.series, n, phaseSummary(incs))
	return res
}

// waitEnded polls the receiver until n incidents opened since t0 ended.
func waitEnded(r *testenv.Runner, c *api.Client, n int, t0 time.Time, timeout time.Duration) []api.Incident {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		incs, err := c.Incidents(ctx)
		cancel()
		var ended []api.Incident
		for _, inc := range incs {
			if !inc.OpenedAt.Before(t0) && !inc.State.Running() {
				ended = append(ended, inc)
			}
		}
		if err == nil && len(ended) >= n {
			return ended
		}
		if time.Now().After(deadline) {
			r.Fatalf("%d of %d incidents ended after %s (%v)", len(ended), n, timeout, err)
		}
		time.Sleep(system.PollInterval(n))
	}
}
