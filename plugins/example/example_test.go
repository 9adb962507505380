package example_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/example"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
)

func settings(script string, timeout string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"command": []string{"sh", "-c", script}, "timeout": timeout})
	return b
}

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		line, addr string
		port       int
		err        string
	}{
		{"127.0.0.2 8080", "127.0.0.2", 8080, ""},
		{"  127.0.0.2   8080 ", "127.0.0.2", 8080, ""},
		{"127.0.0.3:80", "127.0.0.3", 80, ""},
		{"[::1]:443", "::1", 443, ""},
		{"::1 443", "::1", 443, ""},
		{"web.example 80", "", 0, "not an IP address"},
		{"127.0.0.1 0", "", 0, "not in 1-65535"},
		{"127.0.0.1 65536", "", 0, "not in 1-65535"},
		{"127.0.0.1", "", 0, "not an endpoint"},
		{"ready at 127.0.0.1 80", "", 0, "not an endpoint"},
		{"", "", 0, "not an endpoint"},
	} {
		ep, err := example.ParseEndpoint(tc.line)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseEndpoint(%q) error = %v, want %q", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil || ep.Address != tc.addr || ep.Port != tc.port {
			t.Errorf("ParseEndpoint(%q) = %+v, %v", tc.line, ep, err)
		}
	}
}

func TestValidateConfig(t *testing.T) {
	for _, tc := range []struct {
		raw, err string
	}{
		{`{"command":["true"]}`, ""},
		{`{"command":["sh","-c","echo 1.2.3.4 80"],"timeout":"10s","finalize_command":["true"]}`, ""},
		{``, "settings: missing"},
		{`{`, "settings:"},
		{`{"command":[]}`, "settings.command: required"},
		{`{"command":["true"],"timeout":"soon"}`, "settings.timeout"},
		{`{"command":["true"],"timeout":"-1s"}`, "settings.timeout"},
		{`{"command":["true"],"comand":1}`, "unknown field"},
		{`{"command":["true"],"finalize_command":[""]}`, "settings.finalize_command"},
		{`{"command":["true"],"abort_command":["sh","-c","true"]}`, ""},
		{`{"command":["true"],"abort_command":[""]}`, "settings.abort_command"},
	} {
		err := example.Strategy{}.ValidateConfig(context.Background(), sdk.ValidateRequest{Service: "web", Settings: json.RawMessage(tc.raw)})
		if tc.err == "" && err != nil {
			t.Errorf("ValidateConfig(%s) = %v", tc.raw, err)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ValidateConfig(%s) = %v, want %q", tc.raw, err, tc.err)
		}
	}
}

func TestPrepare(t *testing.T) {
	var progress []string
	ep, err := example.Strategy{}.Prepare(context.Background(), sdk.PrepareRequest{
		IncidentID: "inc-7", Service: "web", Reason: "VCRDomainCrashed",
		Settings: settings(`echo "starting $VCR_SERVICE for $VCR_INCIDENT_ID ($VCR_REASON)"; echo warming >&2; echo 127.0.0.2 8080`, "5s"),
	}, func(p sdk.Progress) { progress = append(progress, p.Message) })
	if err != nil {
		t.Fatal(err)
	}
	if ep.Address != "127.0.0.2" || ep.Port != 8080 || ep.Details["output_lines"] != "2" {
		t.Errorf("endpoint = %+v", ep)
	}
	joined := strings.Join(progress, "|")
	for _, want := range []string{"starting web for inc-7 (VCRDomainCrashed)", "stderr: warming", "127.0.0.2 8080"} {
		if !strings.Contains(joined, want) {
			t.Errorf("progress %q lacks %q", joined, want)
		}
	}
}

func TestPrepareFailures(t *testing.T) {
	for _, tc := range []struct {
		name, script, timeout string
		want                  []string
	}{
		{"exit status", `echo "no such container" >&2; exit 4`, "5s", []string{"exit status 4", "stderr: no such container", "fix the command"}},
		{"no output", `true`, "5s", []string{"printed nothing on stdout"}},
		{"bad last line", `echo 127.0.0.1 80; echo done`, "5s", []string{`last stdout line "done"`, "not an endpoint"}},
		{"timeout", `sleep 30`, "200ms", []string{"did not finish within 200ms", "settings.timeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := example.Strategy{}.Prepare(context.Background(), sdk.PrepareRequest{Settings: settings(tc.script, tc.timeout)}, nil)
			if err == nil {
				t.Fatal("Prepare succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %s", time.Since(start))
			}
		})
	}
	_, err := example.Strategy{}.Prepare(context.Background(), sdk.PrepareRequest{Settings: json.RawMessage(`{"command":["/nonexistent/cmd"]}`)}, nil)
	if err == nil || !strings.Contains(err.Error(), "check settings.command") {
		t.Errorf("missing program error = %v", err)
	}
}

// TestCancelKillsProcessGroup checks that a shell's background children die
// with it: otherwise every cancelled recovery would leak processes.
func TestCancelKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := example.Strategy{}.Prepare(ctx, sdk.PrepareRequest{
			Settings: settings(fmt.Sprintf(`sleep 60 & echo $! > %s; echo started; wait`, pidFile), "60s"),
		}, func(p sdk.Progress) {
			if p.Message == "started" {
				cancel()
			}
		})
		errc <- err
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Prepare = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Prepare did not return after cancel")
	}
	expectDead(t, pidFile, "the cancellation")
}

// expectDead waits for the process whose PID the command wrote to pidFile
// to die, and fails (killing it) if it outlives when.
func expectDead(t *testing.T, pidFile, when string) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(5 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("background child %d survived %s", pid, when)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPrepareBackgroundService is the most common command: start a service
// in the background and print where it listens. Prepare must return the
// endpoint as soon as the shell exits, and leave the service running.
func TestPrepareBackgroundService(t *testing.T) {
	incident := fmt.Sprintf("bg-%d-%d", os.Getpid(), time.Now().UnixNano())
	start := time.Now()
	ep, err := example.Strategy{}.Prepare(context.Background(), sdk.PrepareRequest{
		IncidentID: incident, Service: "web",
		Settings: settings("sleep 30 & echo 127.0.0.1 8080", "3s"),
	}, nil)
	took := time.Since(start)
	pids := leftovers(t, incident)
	if err != nil {
		t.Fatalf("Prepare = %v", err)
	}
	if ep.Address != "127.0.0.1" || ep.Port != 8080 {
		t.Errorf("endpoint = %+v, want 127.0.0.1:8080", ep)
	}
	if took >= 3*time.Second {
		t.Errorf("Prepare took %s: it waited for the timeout, not for the shell", took)
	}
	if len(pids) != 1 {
		t.Fatalf("processes of this Prepare still alive: %v, want the background sleep alone", pids)
	}
	// The shell forks, then the child execs sleep: wait for the exec.
	for deadline := time.Now().Add(5 * time.Second); cmdline(pids[0]) != "sleep 30"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("background process %d runs %q, want sleep 30", pids[0], cmdline(pids[0]))
		}
	}
	// Past the command's timeout too: nothing kills it later.
	time.Sleep(time.Until(start.Add(3*time.Second + 500*time.Millisecond)))
	if !processAlive(pids[0]) {
		t.Errorf("background sleep %d was killed after Prepare succeeded", pids[0])
	}
}

// TestPrepareReadsAllOutputBeforeExit: what the shell wrote before it exited
// is read in full, even though its background child keeps the pipe open.
func TestPrepareReadsAllOutputBeforeExit(t *testing.T) {
	incident := fmt.Sprintf("out-%d-%d", os.Getpid(), time.Now().UnixNano())
	// About 200 KB, more than a pipe holds, then the endpoint.
	ep, err := example.Strategy{}.Prepare(context.Background(), sdk.PrepareRequest{
		IncidentID: incident,
		Settings:   settings(`sleep 30 & i=0; while [ $i -lt 20000 ]; do echo "line $i"; i=$((i+1)); done; echo 127.0.0.1 8080`, "20s"),
	}, nil)
	leftovers(t, incident)
	if err != nil {
		t.Fatal(err)
	}
	if ep.Port != 8080 || ep.Details["output_lines"] != "20001" {
		t.Errorf("endpoint = %+v, want port 8080 after 20001 lines", ep)
	}
}

// TestFailedOrHungCommandLeavesNothing: a command that fails, or hangs
// past its timeout, is reported clearly and its background children die.
func TestFailedOrHungCommandLeavesNothing(t *testing.T) {
	for _, tc := range []struct {
		name, tail, timeout, want string
	}{
		{"fails", "exit 3", "10s", "exit status 3"},
		{"hangs", "echo 127.0.0.1 8080; sleep 30", "500ms", "did not finish within 500ms (settings.timeout); it was killed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "child.pid")
			start := time.Now()
			_, err := example.Strategy{}.Prepare(context.Background(), sdk.PrepareRequest{
				Settings: settings(fmt.Sprintf("sleep 60 & echo $! > %s; %s", pidFile, tc.tail), tc.timeout),
			}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Prepare = %v, want %q", err, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s", d)
			}
			expectDead(t, pidFile, "a command that "+tc.name)
		})
	}
}

// leftovers returns the live processes started by a Prepare of incident:
// those whose environment holds its VCR_INCIDENT_ID. It kills them, by PID,
// when the test ends.
func leftovers(t *testing.T, incident string) []int {
	t.Helper()
	marker := []byte("VCR_INCIDENT_ID=" + incident + "\x00")
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err == nil && bytes.Contains(env, marker) && processAlive(pid) {
			pids = append(pids, pid)
		}
	}
	t.Cleanup(func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return pids
}

// cmdline is a process's command line, arguments joined by spaces.
func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}

func TestFinalize(t *testing.T) {
	out := filepath.Join(t.TempDir(), "final")
	raw, _ := json.Marshal(map[string]any{
		"command":          []string{"true"},
		"finalize_command": []string{"sh", "-c", `echo "$VCR_SERVICE $VCR_ENDPOINT_ADDRESS $VCR_ENDPOINT_PORT" > ` + out},
	})
	err := example.Strategy{}.Finalize(context.Background(), sdk.FinalizeRequest{
		Service: "web", Settings: raw, Endpoint: sdk.Endpoint{Address: "127.0.0.2", Port: 8080},
	})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); strings.TrimSpace(string(b)) != "web 127.0.0.2 8080" {
		t.Errorf("finalize command saw %q", b)
	}
}

// TestConformance runs the SDK's conformance suite, idempotency included,
// against a command strategy whose "service" is a directory: Prepare makes
// it (mkdir -p, so a second Prepare finds it made), Abort removes it.
func TestConformance(t *testing.T) {
	dir := t.TempDir()
	world := filepath.Join(dir, "world")
	raw, _ := json.Marshal(map[string]any{
		"command":       []string{"sh", "-c", `mkdir -p "$WORLD/$VCR_SERVICE" && echo "$VCR_INCIDENT_ID" > "$WORLD/$VCR_SERVICE/incident" && echo 127.0.0.1 8080`},
		"abort_command": []string{"sh", "-c", `rm -rf "$WORLD/$VCR_SERVICE"`},
		"timeout":       "10s",
	})
	t.Setenv("WORLD", world)
	sdktest.Conformance(t, func() sdk.Strategy { return example.Strategy{} }, sdktest.Fixture{
		Settings:        raw,
		Request:         &sdk.PrepareRequest{Service: "web", Reason: "VCRDomainShutoff"},
		BlockingPrepare: &sdk.PrepareRequest{Service: "web", Settings: settings("sleep 30", "60s")},
		Reset: func(t testing.TB) {
			if err := os.RemoveAll(world); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(world, 0o755); err != nil {
				t.Fatal(err)
			}
		},
		State: func(t testing.TB) string { return tree(t, world) },
		// A command killed halfway made the directory but wrote nothing.
		Crash: func(t testing.TB) {
			if err := os.MkdirAll(filepath.Join(world, "web"), 0o755); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// tree lists the files under dir with their contents.
func tree(t testing.TB, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			lines = append(lines, rel+"/")
			return nil
		}
		b, err := os.ReadFile(path)
		lines = append(lines, rel+": "+strings.TrimSpace(string(b)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestPluginBinary runs the real plugin binary in its own process, started
// the way vcr-receiver starts it.
func TestPluginBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the plugin binary")
	}
	s := sdktest.Binary(t, sdktest.Build(t, "./cmd/vcr-strategy-example", "example"))
	ctx := context.Background()
	info, err := s.Info(ctx)
	if err != nil || info.Name != "example" || info.Version != example.Version {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if err := s.ValidateConfig(ctx, sdk.ValidateRequest{Settings: json.RawMessage(`{"command":[]}`)}); err == nil || !strings.Contains(err.Error(), "settings.command: required") {
		t.Errorf("ValidateConfig error = %v", err)
	}
	var progress []string
	ep, err := s.Prepare(ctx, sdk.PrepareRequest{Service: "web", Settings: settings("echo one; echo two; echo 127.0.0.9:9090", "10s")},
		func(p sdk.Progress) { progress = append(progress, p.Message) })
	if err != nil || ep.Address != "127.0.0.9" || ep.Port != 9090 {
		t.Fatalf("Prepare = %+v, %v", ep, err)
	}
	if strings.Join(progress, ",") != "one,two,127.0.0.9:9090" {
		t.Errorf("progress = %q", progress)
	}
	_, err = s.Prepare(ctx, sdk.PrepareRequest{Settings: settings("exit 9", "10s")}, nil)
	if err == nil || !strings.Contains(err.Error(), "exit status 9") {
		t.Errorf("failing command error = %v", err)
	}
}
