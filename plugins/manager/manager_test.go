package manager_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/manager"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// pluginDir holds vcr-strategy-testplug, built once for the whole package.
var (
	buildOnce sync.Once
	pluginDir string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pluginDir != "" {
		_ = os.RemoveAll(pluginDir)
	}
	os.Exit(code)
}

func goBuild(out, pkg string) error {
	b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// testPlugins builds the test plugin (the test needs real processes:
// crashes and hangs do not exist in-process).
func testPlugins(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs plugin processes")
	}
	buildOnce.Do(func() {
		pluginDir, buildErr = os.MkdirTemp("", "vcr-manager-test-")
		if buildErr != nil {
			return
		}
		buildErr = goBuild(filepath.Join(pluginDir, "vcr-strategy-testplug"), "./testdata/testplugin")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return pluginDir
}

func newManager(t testing.TB, cfg manager.Config) *manager.Manager {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = testPlugins(t)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	m, err := manager.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func mode(m string) sdk.PrepareRequest {
	return sdk.PrepareRequest{IncidentID: "inc-1", Service: "web", Settings: json.RawMessage(`{"mode":"` + m + `"}`)}
}

// prepareOK runs a successful Prepare and returns the plugin's PID.
func prepareOK(t *testing.T, m *manager.Manager) int {
	t.Helper()
	ep, err := m.Prepare(context.Background(), "testplug", mode("ok"), nil)
	if err != nil {
		t.Fatalf("Prepare(ok): %v", err)
	}
	if ep.Address != "127.0.0.1" || ep.Port != 8080 {
		t.Fatalf("endpoint = %+v", ep)
	}
	pid, err := strconv.Atoi(ep.Details["pid"])
	if err != nil {
		t.Fatalf("endpoint details lack the plugin pid: %+v", ep.Details)
	}
	return pid
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	state := s[i+2]
	return state != 'Z' && state != 'X'
}

func waitGone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive after %s", pid, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDiscovery(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("vcr-strategy-warm", 0o755)
	write("vcr-strategy-notexec", 0o644)
	write("vcr-strategy-", 0o755)
	write("README", 0o755)
	if err := os.Symlink(filepath.Join(dir, "vcr-strategy-warm"), filepath.Join(dir, "vcr-strategy-cold")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "vcr-strategy-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := manager.New(manager.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := strings.Join(m.Names(), ","); got != "cold,warm" {
		t.Errorf("Names = %s, want cold,warm", got)
	}
	_, err = m.Prepare(context.Background(), "scaleup", sdk.PrepareRequest{}, nil)
	if !errors.Is(err, manager.ErrUnknownStrategy) || !strings.Contains(err.Error(), "found: cold, warm") {
		t.Errorf("unknown strategy error = %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vcr-strategy-warm"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  manager.Config
		want string
	}{
		{"no dir", manager.Config{}, "plugin dir is empty"},
		{"missing dir", manager.Config{Dir: filepath.Join(dir, "nope")}, "create it or fix plugins.dir"},
		{"bad checksum", manager.Config{Dir: dir, Checksums: map[string]string{"warm": "abc"}}, "not a hex SHA-256"},
		{"checksum without plugin", manager.Config{Dir: dir, Checksums: map[string]string{"cold": strings.Repeat("0", 64)}}, "no vcr-strategy-cold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := manager.New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestPrepareInfoValidate(t *testing.T) {
	m := newManager(t, manager.Config{})
	ctx := context.Background()
	info, err := m.Info(ctx, "testplug")
	if err != nil || info.Name != "testplug" || info.Version != "0.0.1" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if err := m.ValidateConfig(ctx, "testplug", sdk.ValidateRequest{Service: "web", Settings: json.RawMessage(`{"mode":"ok"}`)}); err != nil {
		t.Errorf("ValidateConfig(valid) = %v", err)
	}
	err = m.ValidateConfig(ctx, "testplug", sdk.ValidateRequest{Service: "web", Settings: json.RawMessage(`{"mode":"sideways"}`)})
	if err == nil || !strings.Contains(err.Error(), `settings.mode: unknown mode "sideways"`) {
		t.Errorf("ValidateConfig(bad) = %v", err)
	}
	var progress []string
	ep, err := m.Prepare(ctx, "testplug", mode("ok"), func(p sdk.Progress) { progress = append(progress, p.Message) })
	if err != nil || ep.Port != 8080 {
		t.Fatalf("Prepare = %+v, %v", ep, err)
	}
	if strings.Join(progress, ";") != "mode ok" {
		t.Errorf("progress = %q", progress)
	}
	if err := m.Finalize(ctx, "testplug", sdk.FinalizeRequest{Service: "web", Endpoint: ep}); err != nil {
		t.Errorf("Finalize = %v", err)
	}
	if err := m.Abort(ctx, "testplug", sdk.AbortRequest{Service: "web", Settings: json.RawMessage(`{"mode":"ok"}`)}); err != nil {
		t.Errorf("Abort = %v", err)
	}
	err = m.Abort(ctx, "testplug", sdk.AbortRequest{Service: "web", Settings: json.RawMessage(`{"mode":"fail"}`)})
	if err == nil || !strings.Contains(err.Error(), "strategy testplug: Abort: abort: source unreachable") {
		t.Errorf("failing Abort = %v", err)
	}
}

func TestPluginErrorKeepsProcess(t *testing.T) {
	m := newManager(t, manager.Config{})
	pid := prepareOK(t, m)
	_, err := m.Prepare(context.Background(), "testplug", mode("fail"), nil)
	if err == nil || !strings.Contains(err.Error(), "standby unreachable: connection refused; check lxd_remotes.standby") {
		t.Fatalf("Prepare(fail) = %v", err)
	}
	if errors.Is(err, manager.ErrPluginExited) || errors.Is(err, manager.ErrPluginTimeout) {
		t.Errorf("a strategy error was classified as a plugin failure: %v", err)
	}
	if again := prepareOK(t, m); again != pid {
		t.Errorf("plugin restarted after an ordinary error (pid %d -> %d)", pid, again)
	}
}

func TestCrashMidPrepare(t *testing.T) {
	for _, tc := range []struct {
		mode  string
		cause []string
	}{
		{"crash", []string{"exit status 3", "testplugin: giving up on purpose"}},
		{"panic", []string{"exit status 2", "panic: testplugin: boom"}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			m := newManager(t, manager.Config{})
			first := prepareOK(t, m)
			var progress []string
			_, err := m.Prepare(context.Background(), "testplug", mode(tc.mode), func(p sdk.Progress) { progress = append(progress, p.Message) })
			if !errors.Is(err, manager.ErrPluginExited) {
				t.Fatalf("Prepare(%s) = %v, want ErrPluginExited", tc.mode, err)
			}
			for _, want := range append([]string{"plugin vcr-strategy-testplug exited during Prepare"}, tc.cause...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if len(progress) == 0 || progress[0] != "mode "+tc.mode {
				t.Errorf("progress before the crash was lost: %q", progress)
			}
			if alive(first) {
				t.Errorf("crashed plugin %d still alive", first)
			}
			if second := prepareOK(t, m); second == first {
				t.Errorf("next call reused the dead process %d", first)
			}
		})
	}
}

func TestHangTimesOutAndRestarts(t *testing.T) {
	m := newManager(t, manager.Config{CallTimeout: 500 * time.Millisecond})
	first := prepareOK(t, m)
	start := time.Now()
	_, err := m.Prepare(context.Background(), "testplug", mode("hang"), nil)
	took := time.Since(start)
	if !errors.Is(err, manager.ErrPluginTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Prepare(hang) = %v, want ErrPluginTimeout", err)
	}
	for _, want := range []string{"plugin vcr-strategy-testplug did not answer within 500ms during Prepare", "raise plugins.timeout or fix the plugin"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if took > 5*time.Second {
		t.Errorf("timed-out call took %s", took)
	}
	second := prepareOK(t, m)
	if second == first {
		t.Errorf("next call went to the hung process %d", first)
	}
	waitGone(t, first, 10*time.Second)
}

func TestCallerDeadlineOverridesDefault(t *testing.T) {
	m := newManager(t, manager.Config{CallTimeout: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := m.Prepare(ctx, "testplug", mode("hang"), nil)
	if !errors.Is(err, manager.ErrPluginTimeout) {
		t.Fatalf("Prepare(hang) with a caller deadline = %v", err)
	}
}

func TestCallerCancelDoesNotRestart(t *testing.T) {
	m := newManager(t, manager.Config{})
	pid := prepareOK(t, m)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := m.Prepare(ctx, "testplug", mode("wait"), func(sdk.Progress) { cancel() })
		errc <- err
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) || errors.Is(err, manager.ErrPluginTimeout) {
			t.Fatalf("cancelled Prepare = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelled Prepare did not return")
	}
	if again := prepareOK(t, m); again != pid {
		t.Errorf("plugin restarted after a caller cancellation (pid %d -> %d)", pid, again)
	}
}

func TestConcurrentCallsShareOneProcess(t *testing.T) {
	m := newManager(t, manager.Config{})
	const n = 16
	pids := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pids <- prepareOK(t, m)
		}()
	}
	wg.Wait()
	close(pids)
	seen := map[int]bool{}
	for p := range pids {
		seen[p] = true
	}
	if len(seen) != 1 {
		t.Errorf("concurrent first calls started %d processes, want 1", len(seen))
	}
}

func TestChecksum(t *testing.T) {
	dir := testPlugins(t)
	b, err := os.ReadFile(filepath.Join(dir, "vcr-strategy-testplug"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	good := hex.EncodeToString(sum[:])

	m := newManager(t, manager.Config{Checksums: map[string]string{"testplug": good}})
	prepareOK(t, m)

	bad := strings.Repeat("ab", 32)
	m = newManager(t, manager.Config{Checksums: map[string]string{"testplug": bad}})
	_, err = m.Prepare(context.Background(), "testplug", mode("ok"), nil)
	if !errors.Is(err, manager.ErrChecksumMismatch) {
		t.Fatalf("Prepare with a wrong checksum = %v", err)
	}
	for _, want := range []string{"its SHA-256 is " + good, "configured checksum is " + bad, "rebuild the plugin or update the checksum"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestVersionMismatch(t *testing.T) {
	t.Setenv("TESTPLUGIN_PROTOCOL", "3")
	m := newManager(t, manager.Config{})
	_, err := m.Info(context.Background(), "testplug")
	if !errors.Is(err, sdk.ErrIncompatibleVersion) {
		t.Fatalf("Info from a version-3 plugin = %v", err)
	}
	for _, want := range []string{"vcr-strategy-testplug speaks protocol version 3", "supports strategy protocol version(s) 1, 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestCloseKillsPlugins(t *testing.T) {
	m := newManager(t, manager.Config{})
	pid := prepareOK(t, m)
	m.Close()
	waitGone(t, pid, 5*time.Second)
	if _, err := m.Info(context.Background(), "testplug"); !errors.Is(err, manager.ErrClosed) {
		t.Errorf("Info after Close = %v, want ErrClosed", err)
	}
}
