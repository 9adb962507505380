// Package sdktest is the test harness for strategy plugin authors: it runs a
// Strategy over real go-plugin gRPC (in-process, or as a built plugin binary
// driven by the receiver's own plugin manager) and checks the behaviour every
// strategy owes the receiver.
package sdktest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/vcrcovery/vcrcovery/plugins/manager"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// GRPC serves s in-process over a real gRPC connection (go-plugin's
// TestGRPCConn, on loopback TCP) and returns the host-side client, so every
// call crosses the same shims and wire format as in production. The
// connection closes when the test ends.
func GRPC(t testing.TB, s sdk.Strategy) sdk.Strategy {
	t.Helper()
	p := &sdk.GRPCPlugin{Impl: s}
	var regErr error
	conn, server := plugin.TestGRPCConn(t, func(srv *grpc.Server) { regErr = p.GRPCServer(nil, srv) })
	t.Cleanup(func() {
		_ = conn.Close()
		server.Stop()
	})
	if regErr != nil {
		t.Fatalf("register strategy: %v", regErr)
	}
	return sdk.NewGRPCClient(conn)
}

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

// Binary runs the plugin executable at path in its own process through the
// receiver's plugin manager (handshake, AutoMTLS, timeouts and all) and
// returns it as a Strategy. The process is killed when the test ends.
func Binary(t testing.TB, path string) sdk.Strategy {
	t.Helper()
	name := strings.TrimPrefix(filepath.Base(path), sdk.BinaryPrefix)
	dir := filepath.Dir(path)
	if filepath.Base(path) != sdk.BinaryPrefix+name || name == "" {
		t.Fatalf("plugin binary %s must be named %s<name>", path, sdk.BinaryPrefix)
	}
	m, err := manager.New(manager.Config{Dir: dir})
	if err != nil {
		t.Fatalf("plugin manager: %v", err)
	}
	t.Cleanup(m.Close)
	return &managed{m: m, name: name}
}

// managed adapts one strategy of a Manager to the Strategy interface.
type managed struct {
	m    *manager.Manager
	name string
}

func (p *managed) Info(ctx context.Context) (sdk.Info, error) { return p.m.Info(ctx, p.name) }

func (p *managed) ValidateConfig(ctx context.Context, settings json.RawMessage) error {
	return p.m.ValidateConfig(ctx, p.name, settings)
}

func (p *managed) Prepare(ctx context.Context, req sdk.PrepareRequest, progress sdk.ProgressFunc) (sdk.Endpoint, error) {
	return p.m.Prepare(ctx, p.name, req, progress)
}

func (p *managed) Finalize(ctx context.Context, req sdk.FinalizeRequest) error {
	return p.m.Finalize(ctx, p.name, req)
}
