package sdktest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// Build compiles the main package pkg (an import path or a ./relative path,
// as `go build` takes it) into a temporary directory as
// vcr-strategy-<name> and returns the binary's path.
func Build(t testing.TB, pkg, name string) string {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, sdk.BinaryPrefix+name)
	goBin := "go"
	if root := os.Getenv("GOROOT"); root != "" {
		goBin = filepath.Join(root, "bin", "go")
	}
	cmd := exec.Command(goBin, "build", "-o", out, pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// Binary starts the plugin executable at path in its own process, the way a
// host does (sdk.ClientConfig: the versioned handshake, gRPC, AutoMTLS), and
// returns it as a Strategy. The plugin's log lines go to the test log. The
// process is killed when the test ends.
//
// Only the receiver's plugin manager adds call timeouts, restarts and
// checksum pinning (plugins/manager/README.md); a harness for plugin authors
// has no use for them.
func Binary(t testing.TB, path string) sdk.Strategy {
	t.Helper()
	bin := filepath.Base(path)
	if name := strings.TrimPrefix(bin, sdk.BinaryPrefix); name == "" || name == bin {
		t.Fatalf("plugin binary %s must be named %s<name>", path, sdk.BinaryPrefix)
	}
	cfg := sdk.ClientConfig(exec.Command(path))
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: bin, Level: hclog.Debug, Output: testLog{t}})
	client := plugin.NewClient(cfg)
	// Kill waits for go-plugin's goroutines, so nothing logs to t after it.
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("start plugin %s: %v", path, sdk.ExplainStartError(bin, err))
	}
	s, err := sdk.Dispense(rpc)
	if err != nil {
		t.Fatalf("start plugin %s: %v", path, err)
	}
	return s
}

// testLog writes go-plugin's and the plugin's log lines to the test log, so
// they show with -v or when the test fails.
type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
