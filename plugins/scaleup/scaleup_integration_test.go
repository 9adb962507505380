package scaleup

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategytest"
	"github.com/vcrcovery/vcrcovery/plugins/ownership"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// pair is a standby and a bigger VM, each an LXD daemon with its own address.
type pair struct {
	standby, bigvm *testenv.LXD
	shared         json.RawMessage
}

func startPair(t testing.TB) pair {
	t.Helper()
	standby := testenv.StartLXD(t, testenv.LXDOptions{Name: "standby", Address: "127.0.0.2"})
	bigvm := testenv.StartLXD(t, testenv.LXDOptions{Name: "bigvm", Address: "127.0.0.3"})
	return pair{standby, bigvm, strategytest.SharedJSON(t, map[string]sdk.LXDRemote{"standby": strategytest.Remote(standby), "bigvm": strategytest.Remote(bigvm)}, "")}
}

// burnCPU keeps one busy loop running inside the instance for the rest of
// the test (or until the instance stops).
func burnCPU(t *testing.T, x *testenv.LXD, name string) {
	cmd := exec.Command("lxc", "exec", name, "--", "sh", "-c", "while :; do :; done")
	cmd.Env = append(os.Environ(), "LXD_DIR="+x.Dir)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start CPU burner: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	time.Sleep(time.Second) // lxc exec takes a moment to get the loop going
}

func status(t testing.TB, x *testenv.LXD, name string) string {
	out, err := x.LxcErr(t, "list", "^"+name+"$", "--format", "csv", "-c", "s")
	if err != nil {
		t.Fatalf("lxc list: %v: %s", err, out)
	}
	return strings.TrimSpace(out)
}

func TestScaleupIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs two real LXD daemons")
	}
	p := startPair(t)
	ctx := context.Background()
	port := testenv.FreePort(t)
	p.standby.LaunchService(t, "web", port)
	idlePort := testenv.FreePort(t)
	p.standby.LaunchService(t, "idle", idlePort)
	// web burns CPU so the choice has something to see.
	burnCPU(t, p.standby, "web")

	settings := json.RawMessage(`{"source":"standby","target":"bigvm","candidates":["idle","web"],"proxy_device":"web","sample_interval":"300ms"}`)
	req := sdk.PrepareRequest{IncidentID: "i1", Service: "web", Reason: "VCRStandbyOverloaded", Settings: settings, Shared: p.shared}

	t.Run("target full", func(t *testing.T) {
		p.bigvm.Lxc(t, "project", "set", "default", "limits.instances", "0")
		defer p.bigvm.Lxc(t, "project", "unset", "default", "limits.instances")
		_, err := (&Strategy{}).Prepare(ctx, req, nil)
		if err == nil || !strings.Contains(err.Error(), "web keeps serving on standby at 127.0.0.2:"+strconv.Itoa(port)) {
			t.Fatalf("err = %v", err)
		}
		t.Logf("error: %v", err)
		strategytest.WaitPage(t, "127.0.0.2", port, "web\n", 5*time.Second)
		if out := p.bigvm.Lxc(t, "list", "--format", "csv", "-c", "n"); strings.TrimSpace(out) != "" {
			t.Errorf("target holds %q after the failed move", out)
		}
	})

	s := sdktest.GRPC(t, &Strategy{})
	var progress []string
	start := time.Now()
	ep, err := s.Prepare(ctx, req, func(p sdk.Progress) { progress = append(progress, p.Message) })
	if err != nil {
		t.Fatalf("Prepare: %v\nprogress:\n%s", err, strings.Join(progress, "\n"))
	}
	t.Logf("moved in %s; details %v\nprogress:\n%s", time.Since(start).Round(time.Millisecond), ep.Details, strings.Join(progress, "\n"))
	if ep.Address != "127.0.0.3" || ep.Port != port {
		t.Fatalf("endpoint %s:%d, want 127.0.0.3:%d", ep.Address, ep.Port, port)
	}
	d := ep.Details
	if d["moved"] != "web" || d["migration"] != MethodStatelessFallback || d["reason"] == "" {
		t.Fatalf("details = %v", d)
	}
	cpuWeb, _ := strconv.ParseFloat(d["cpu.web"], 64)
	cpuIdle, _ := strconv.ParseFloat(d["cpu.idle"], 64)
	if cpuWeb <= cpuIdle || !strings.Contains(d["choice"], "moving web") {
		t.Errorf("choice did not see web's load: web %v idle %v: %s", cpuWeb, cpuIdle, d["choice"])
	}
	strategytest.WaitPage(t, ep.Address, ep.Port, "web\n", 10*time.Second)
	if _, err := strategytest.Get("127.0.0.2", port); err == nil {
		t.Error("the old address still answers after the move")
	}
	if st := status(t, p.standby, "web"); st != "FROZEN" {
		t.Errorf("source copy is %q before Finalize, want FROZEN (kept until the switch)", st)
	}
	if st := status(t, p.standby, "idle"); st != "RUNNING" {
		t.Errorf("idle was disturbed: %q", st)
	}

	if err := s.Finalize(ctx, sdk.FinalizeRequest{IncidentID: "i1", Service: "web", Settings: settings, Shared: p.shared, Endpoint: ep}); err != nil {
		t.Fatalf("Finalize: %v", err)
	}
	if st := status(t, p.standby, "web"); st != "" {
		t.Errorf("source copy still there after Finalize: %q", st)
	}
	strategytest.WaitPage(t, ep.Address, ep.Port, "web\n", 5*time.Second)

	t.Run("abort puts the source back", func(t *testing.T) {
		// web now lives on bigvm; move it back to the standby, then undo.
		back := json.RawMessage(`{"source":"bigvm","target":"standby","live":"off","proxy_device":"web","sample_interval":"50ms"}`)
		r := sdk.PrepareRequest{IncidentID: "i2", Service: "web", Settings: back, Shared: p.shared}
		ep, err := s.Prepare(ctx, r, nil)
		if err != nil || ep.Address != "127.0.0.2" {
			t.Fatalf("Prepare back = %+v, %v", ep, err)
		}
		if st := status(t, p.bigvm, "web"); st != "FROZEN" {
			t.Fatalf("source copy is %q after the move, want FROZEN", st)
		}
		abort := sdk.AbortRequest{IncidentID: "i2", Service: "web", Reason: "DNS switch failed", Settings: back, Shared: p.shared, Endpoint: ep}
		for range 2 { // the second Abort finds nothing left to undo
			if err := s.Abort(ctx, abort); err != nil {
				t.Fatalf("Abort: %v", err)
			}
		}
		strategytest.WaitPage(t, "127.0.0.3", port, "web\n", 5*time.Second)
		if st := status(t, p.standby, "web"); st != "" {
			t.Errorf("the target copy is still there after Abort: %q", st)
		}
	})

	t.Run("instance missing", func(t *testing.T) {
		r := req
		r.Settings = json.RawMessage(`{"source":"standby","target":"bigvm","candidates":["ghost"]}`)
		_, err := s.Prepare(ctx, r, nil)
		if err == nil || !strings.Contains(err.Error(), "no running candidate") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("live only", func(t *testing.T) {
		r := req
		r.Service = "idle"
		r.Settings = json.RawMessage(`{"source":"standby","target":"bigvm","live":"only","proxy_device":"web","sample_interval":"50ms"}`)
		_, err := s.Prepare(ctx, r, nil)
		if err == nil || !strings.Contains(err.Error(), "live=only, so no fallback") || !strings.Contains(err.Error(), "idle keeps serving on standby") {
			t.Fatalf("err = %v", err)
		}
		strategytest.WaitPage(t, "127.0.0.2", idlePort, "idle\n", 5*time.Second)
	})

	t.Run("finalize keeps the source when the target copy does not run", func(t *testing.T) {
		err := s.Finalize(ctx, sdk.FinalizeRequest{Service: "idle", Settings: settings, Shared: p.shared,
			Endpoint: sdk.Endpoint{Details: map[string]string{"moved": "idle"}}})
		if err == nil || !strings.Contains(err.Error(), "its source copy on standby is kept") {
			t.Fatalf("err = %v", err)
		}
		if st := status(t, p.standby, "idle"); st != "RUNNING" {
			t.Errorf("idle is %q", st)
		}
	})

	t.Run("cancellation", func(t *testing.T) {
		// A long CPU sample keeps Prepare busy; cancelling must end it at
		// once, in-process and over gRPC.
		r := req
		r.Service = "idle"
		r.Settings = json.RawMessage(`{"source":"standby","target":"bigvm","proxy_device":"web","sample_interval":"50s"}`)
		sdktest.Conformance(t, func() sdk.Strategy { return &Strategy{} }, sdktest.Fixture{Settings: r.Settings, Shared: p.shared, BlockingPrepare: &r, CancelWithin: 2 * time.Second})
	})

	t.Run("namesake on the target it does not own survives", func(t *testing.T) {
		p.bigvm.LaunchService(t, "idle", idlePort) // made by hand: no marks
		r := req
		r.Service = "idle"
		r.Settings = json.RawMessage(`{"source":"standby","target":"bigvm","live":"off","proxy_device":"web","sample_interval":"50ms"}`)
		_, err := s.Prepare(ctx, r, nil)
		if err == nil || !strings.Contains(err.Error(), `remote "bigvm" has an instance "idle" that VCRcovery does not own`) ||
			!strings.Contains(err.Error(), "vcrctl standby adopt idle --remote bigvm") {
			t.Fatalf("err = %v", err)
		}
		t.Logf("error: %v", err)
		if err := s.Abort(ctx, sdk.AbortRequest{IncidentID: r.IncidentID, Service: "idle", Settings: r.Settings, Shared: p.shared}); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		strategytest.WaitPage(t, "127.0.0.3", idlePort, "idle\n", 5*time.Second)
		strategytest.WaitPage(t, "127.0.0.2", idlePort, "idle\n", 5*time.Second)
		p.bigvm.Lxc(t, "delete", "--force", "idle")
	})

	t.Run("target unreachable mid-migration", func(t *testing.T) {
		// Kill the bigger VM's daemon between the pre-copy and the stop:
		// the refresh then fails, and the source must be serving again.
		st := &Strategy{afterStep: func(step string) {
			if step != "pre-copied" {
				return
			}
			syscall.Kill(-p.bigvm.Proc.PID, syscall.SIGKILL)
			for !p.bigvm.Proc.Exited() {
				time.Sleep(10 * time.Millisecond)
			}
		}}
		r := req
		r.Service = "idle"
		r.Settings = json.RawMessage(`{"source":"standby","target":"bigvm","live":"off","proxy_device":"web","sample_interval":"50ms"}`)
		_, err := st.Prepare(ctx, r, nil)
		if err == nil {
			t.Fatal("Prepare succeeded with the target dead")
		}
		t.Logf("error: %v", err)
		for _, want := range []string{"idle keeps serving on standby at 127.0.0.2:" + strconv.Itoa(idlePort), "delete it by hand"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q", want)
			}
		}
		strategytest.WaitPage(t, "127.0.0.2", idlePort, "idle\n", 10*time.Second)
	})
}

// TestConformanceAgainstLXD runs the SDK's conformance suite, idempotency
// included, against two real LXD daemons. The service's container on the
// standby was adopted (vcrctl standby adopt); the bigger VM starts empty.
func TestConformanceAgainstLXD(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs two real LXD daemons")
	}
	p := startPair(t)
	port := testenv.FreePort(t)
	p.standby.LaunchService(t, "web", port)
	ctx := context.Background()
	req := &sdk.PrepareRequest{IncidentID: "conformance-1", Service: "web", Reason: "VCRStandbyOverloaded"}
	settings := json.RawMessage(`{"source":"standby","target":"bigvm","proxy_device":"web","sample_interval":"50ms","live":"off"}`)
	sdktest.Conformance(t, func() sdk.Strategy { return &Strategy{} }, sdktest.Fixture{
		Settings: settings,
		Shared:   p.shared,
		Request:  req,
		Reset: func(t testing.TB) {
			strategytest.Removed(t, p.bigvm)
			if status(t, p.standby, "web") == "" { // finalized: moved away for good
				p.standby.LaunchService(t, "web", port)
			}
			strategytest.Running(t, p.standby, "web")
			c := strategytest.Client(t, p.standby)
			if err := strategy.RetryBusy(ctx, func() error {
				return ownership.Mark(ctx, c, "web", ownership.Marks("web", "adopted", nil))
			}); err != nil {
				t.Fatal(err)
			}
		},
		State: func(t testing.TB) string { return strategytest.Instances(t, p.standby, p.bigvm) },
		// The plugin died after the refresh, before it started the copy:
		// the source frozen, a stopped copy on the target.
		Crash: func(t testing.TB) {
			r := *req
			r.Settings, r.Shared = settings, p.shared
			crashed := make(chan struct{})
			go func() {
				defer close(crashed)
				st := &Strategy{afterStep: func(step string) {
					if step == "refreshed" {
						runtime.Goexit()
					}
				}}
				_, err := st.Prepare(ctx, r, nil)
				t.Errorf("Prepare did not reach the crash point: %v", err)
			}()
			<-crashed
			if got := status(t, p.standby, "web"); got != "FROZEN" {
				t.Fatalf("after the crash web is %q on the standby, want FROZEN", got)
			}
		},
	})
}
