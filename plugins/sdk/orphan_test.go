package sdk_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// The orphan tests need three processes: the test, a host it can SIGKILL,
// and the plugin that host started. The test binary plays all three, chosen
// by these variables.
const (
	envActAsHost   = "SDK_TEST_ACT_AS_HOST"
	envActAsPlugin = "SDK_TEST_ACT_AS_PLUGIN"
)

// pidStrategy is a plugin that tells its host its PID through Info.
type pidStrategy struct{ fake }

func (*pidStrategy) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "pid", Version: "1", Description: strconv.Itoa(os.Getpid())}, nil
}

// actAsHostOrPlugin runs the host or the plugin role when the test binary
// was started for one, and never returns then.
func actAsHostOrPlugin() {
	switch {
	case os.Getenv(envActAsPlugin) != "":
		sdk.Serve(&pidStrategy{})
	case os.Getenv(envActAsHost) != "":
		// A minimal host: start the plugin the way vcr-receiver does, print
		// its PID, then wait to be killed.
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), envActAsPlugin+"=1")
		client := plugin.NewClient(sdk.ClientConfig(cmd))
		rpc, err := client.Client()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		s, err := sdk.Dispense(rpc)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		info, err := s.Info(context.Background())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(info.Description)
		time.Sleep(time.Hour)
		os.Exit(0)
	}
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

// startHost runs the test binary as a host and returns it with its plugin's
// PID.
func startHost(t *testing.T, env ...string) (*exec.Cmd, int) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts host and plugin processes")
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), envActAsHost+"=1"), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("host printed no plugin pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || !alive(pid) {
		t.Fatalf("host printed %q, not a live pid", line)
	}
	return cmd, pid
}

func TestNoOrphanAfterHostSIGKILL(t *testing.T) {
	host, pid := startHost(t)
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	waitGone(t, pid, 5*time.Second)
}

// TestWithoutParentWatchPluginIsOrphaned shows why Serve watches its parent:
// go-plugin alone leaves the plugin running after the host is SIGKILLed.
func TestWithoutParentWatchPluginIsOrphaned(t *testing.T) {
	host, pid := startHost(t, sdk.EnvNoParentWatch+"=1")
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	time.Sleep(2 * time.Second)
	if !alive(pid) {
		t.Skip("plugin exited without the parent watch; go-plugin may have learned to do this itself")
	}
}
