// Command demo runs VCRcovery's main job on one machine, from real parts on
// loopback: a VM dies, its service comes back in a container, and DNS
// switches; then the same for a cold standby, then a scale-up. With
// --scenario database, a real MariaDB loses its VM instead and a row written
// before the destroy is read back through the switched name (database.go).
// `make demo` runs the database scenario, then this one; `make demo-down`
// (or Ctrl-C) stops everything it started.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/test/system"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

const pidFile = "/run/vcrcovery-demo.pid"

func main() {
	down := flag.Bool("down", false, "stop a running demo (what `make demo-down` runs)")
	hold := flag.Bool("hold", true, "keep the system running after the script until Ctrl-C or `make demo-down`")
	noVM := flag.Bool("no-vm", false, "use a libvirt test-driver domain instead of booting a real QEMU VM")
	scenario := flag.String("scenario", "recovery", "recovery (warm, cold, scale-up) or database (a real MariaDB survives its VM)")
	flag.Parse()
	if *scenario != "recovery" && *scenario != "database" {
		fmt.Fprintln(os.Stderr, "demo: --scenario must be recovery or database")
		os.Exit(2)
	}
	if *down {
		if err := stopRunning(); err != nil {
			fmt.Fprintln(os.Stderr, "demo-down:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*hold, !*noVM, *scenario); err != nil {
		fmt.Fprintln(os.Stderr, "\ndemo failed:", err)
		os.Exit(1)
	}
}

func run(hold, realVM bool, scenario string) error {
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 && syscall.Kill(pid, 0) == nil {
			return fmt.Errorf("a demo is already running (pid %d); stop it with `make demo-down`", pid)
		}
	}
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("write %s: %w (run as root)", pidFile, err)
	}
	defer os.Remove(pidFile)

	dir, err := os.MkdirTemp("", "vcr-demo-")
	if err != nil {
		return err
	}
	logPath := filepath.Join(dir, "demo.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	detail := log.New(logFile, "", log.LstdFlags|log.Lmicroseconds)
	r := testenv.NewRunner(dir, detail.Printf)
	defer func() {
		say("\nstopping everything the demo started…")
		r.Close()
		say("stopped.")
	}()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)

	if scenario == "database" {
		return r.Run(func() { databaseScript(r, logPath, hold, stop) })
	}
	return r.Run(func() { script(r, dir, logPath, realVM, hold, stop) })
}

func say(format string, args ...any) { fmt.Printf(format+"\n", args...) }

func script(r *testenv.Runner, dir, logPath string, realVM, hold bool, stop chan os.Signal) {
	say("VCRcovery demo — everything runs on loopback; details in %s\n", logPath)
	what := "a real QEMU VM (TCG) for web"
	if !realVM {
		what = "a test-driver domain for web"
	}
	say("▸ starting libvirtd with %s and a test-driver domain for shop,", what)
	say("  named, LXD (standby VM + bigger VM), Alertmanager, Prometheus, vcr-exporter, vcr-receiver…")
	begin := time.Now()
	sys := system.Start(r, system.Options{
		FastPath: true,
		RulePath: true,
		ScaleUp:  true,
		// The shipped rules wait minutes (VCRStandbyOverloaded: 10m of load
		// over 1m rates); the demo divides every `for:` by 60 and rates over
		// 10s so the whole story fits in a minute.
		RuleForDivisor:  60,
		RuleWindow:      "10s",
		StandbyExporter: true,
		StandbyCPUs:     1,
		Services: []system.ServiceSpec{
			{Name: "web", Strategy: "warm", RealVM: realVM},
			{Name: "shop", Strategy: "cold"},
		},
		Logf: func(f string, a ...any) { say("  "+f, a...) },
	})
	say("  ready in %s\n", time.Since(begin).Round(100*time.Millisecond))

	step := 1
	for _, name := range []string{"web", "shop"} {
		svc := sys.Service(r, name)
		kind := map[string]string{"warm": "warm standby: its container already runs", "cold": "cold standby: restored from a backup"}[svc.Strategy]
		say("── %s (%s)", svc.DNSName, kind)
		show(r, sys, step, name)
		step++
		destroyed := sys.FailPrimary(r, name)
		say("%d  virsh destroy %s   (returned after %s)", step, svc.Domain, time.Since(destroyed).Round(time.Millisecond))
		step++
		inc := watch(r, sys, name, destroyed, func(i api.Incident) bool { return i.Kind == api.KindFailover })
		for _, a := range sys.AM.Alerts(r) {
			if a.Labels["domain"] == svc.Domain {
				say("   Alertmanager: %s{domain=%q, host=%q} %s", a.Labels["alertname"], a.Labels["domain"], a.Labels["host"], a.Status.State)
			}
		}
		show(r, sys, step, name)
		step++
		if inc.ClosedAt != nil {
			say("   recovered %s after the destroy\n", inc.ClosedAt.Sub(destroyed).Round(time.Millisecond))
		}
	}

	say("── scale-up: load the standby until a container moves to the bigger VM")
	say("%d  busy-looping inside the web container on the standby…", step)
	step++
	loaded := time.Now()
	sys.Standby.Lxc(r, "exec", "web", "--", "sh", "-c", "for i in 1 2 3 4; do (while :; do :; done) </dev/null >/dev/null 2>&1 & done")
	say("   standby CPU by container: %s (the standby VM has 1 vCPU here)", standbyLoad(sys))
	say("   waiting for Prometheus: VCRStandbyOverloaded (demo rules: for: 10s over 10s rates; shipped: 10m over 1m)…")
	inc := watch(r, sys, "web", loaded, func(i api.Incident) bool { return i.Kind == api.KindScaleUp })
	if d := inc.Endpoint; d != nil {
		say("   moved %s to the bigger VM by %s migration, unreachable for %s ms", d.Details["moved"], d.Details["migration"], d.Details["downtime_ms."+d.Details["moved"]])
		if why := d.Details["live_error."+d.Details["moved"]]; why != "" {
			say("   (live migration first: %s)", why)
		}
	}
	show(r, sys, step, "web")

	say("\n── look around")
	say("   status page      %s/   (user %s, password %s)", sys.ReceiverURL, system.OperatorUser, system.OperatorPassword)
	say("   incidents        %s/api/v1/incidents", sys.ReceiverURL)
	say("   Alertmanager     %s", sys.AM.URL)
	if sys.Prom != nil {
		say("   Prometheus       %s", sys.Prom.URL)
	}
	say("   vcrctl           bin/vcrctl --receiver.url %s --token-file %s/receiver.token incidents", sys.ReceiverURL, sys.Dir)
	if !hold {
		return
	}
	say("\nrunning until Ctrl-C or `make demo-down`")
	<-stop
}

// show prints what the service's name resolves to and what answers there.
func show(r *testenv.Runner, sys *system.System, step int, name string) {
	addrs := sys.Resolve(r, name)
	page, err := sys.Get(r, name)
	answer := strings.TrimSpace(page)
	if err != nil {
		answer = "error: " + err.Error()
	}
	say("%d  dig +short %-14s → %-11s  curl → %q", step, sys.Service(r, name).DNSName, strings.Join(addrs, ","), answer)
}

// watch prints the incident's phases as they finish, until it ends.
func watch(r *testenv.Runner, sys *system.System, name string, since time.Time, match func(api.Incident) bool) api.Incident {
	printed := map[string]bool{}
	deadline := time.Now().Add(3 * time.Minute)
	labels := map[string]string{api.PhaseDetect: "detected", api.PhaseFence: "fenced", api.PhasePrepare: "prepared",
		api.PhaseVerify: "verified", api.PhaseSwitch: "switched", api.PhaseFinalize: "finalized"}
	for time.Now().Before(deadline) {
		for _, inc := range sys.Incidents(r, name) {
			if !match(inc) || inc.OpenedAt.Before(since.Add(-time.Second)) {
				continue
			}
			if !printed["open"] {
				printed["open"] = true
				say("   incident %s: %s (%s via %s)", inc.ID, inc.Kind, inc.Reason, inc.Alerts.FirstSource)
			}
			for _, p := range inc.Phases {
				if p.EndedAt == nil || printed[p.Name] {
					continue
				}
				printed[p.Name] = true
				label := labels[p.Name]
				if p.Outcome != api.OutcomeOK {
					label = p.Name + ": " + p.Outcome
				}
				say("     %-14s +%-8s (%s)", label, p.EndedAt.Sub(since).Round(time.Millisecond), time.Duration(p.DurationSeconds*float64(time.Second)).Round(time.Millisecond))
			}
			if !inc.State.Running() {
				if inc.State != api.StateResolved {
					r.Fatalf("incident %s ended %s: %s", inc.ID, inc.State, inc.Error)
				}
				return inc
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.Fatalf("no finished incident for %s within 3 minutes; see the receiver log %s", name, sys.ReceiverProc.Log)
	return api.Incident{}
}

func standbyLoad(sys *system.System) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := lxd.Connect(ctx, lxd.Config{Socket: sys.Standby.Socket})
	if err != nil {
		return err.Error()
	}
	sample := func() map[string]int64 {
		out := map[string]int64{}
		insts, err := c.ListInstances(ctx)
		if err != nil {
			return out
		}
		for _, in := range insts {
			if st, err := c.GetInstanceState(ctx, in.Name); err == nil {
				out[in.Name] = st.CPU.Usage
			}
		}
		return out
	}
	a := sample()
	time.Sleep(time.Second)
	b := sample()
	var parts []string
	for name, u := range b {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", name, float64(u-a[name])/1e7))
	}
	return strings.Join(parts, ", ")
}

// stopRunning signals a running demo and waits for it to clean up.
func stopRunning() error {
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Println("no demo is running")
		return nil
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		os.Remove(pidFile)
		fmt.Println("no demo is running")
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return err
	}
	for i := 0; i < 600; i++ {
		if syscall.Kill(pid, 0) != nil {
			fmt.Println("demo stopped")
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("demo (pid %d) did not stop within 60s", pid)
}
