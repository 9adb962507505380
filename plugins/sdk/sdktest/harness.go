// Package sdktest is the test harness for strategy plugin authors: it runs a
// Strategy over real go-plugin gRPC (in-process, or as a built plugin binary
// in its own process) and checks the behaviour every strategy owes the
// receiver. It depends only on the SDK module (plugins/sdk) and go-plugin,
// never on the receiver's own code.
package sdktest

import (
	"context"
	"testing"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// GRPC serves s in-process over a real gRPC connection (go-plugin's
// TestGRPCConn, on loopback TCP) and returns the host-side client, so every
// call crosses the same shims and wire format as in production. The
// connection closes when the test ends.
func GRPC(t testing.TB, s sdk.Strategy) sdk.Strategy {
	t.Helper()
	p, ok := sdk.VersionedPlugins(s)[sdk.ProtocolVersion][sdk.PluginName].(plugin.GRPCPlugin)
	if !ok {
		t.Fatalf("sdk.VersionedPlugins has no gRPC strategy plugin for protocol %d; this is a bug in plugins/sdk", sdk.ProtocolVersion)
	}
	var regErr error
	conn, server := plugin.TestGRPCConn(t, func(srv *grpc.Server) { regErr = p.GRPCServer(nil, srv) })
	t.Cleanup(func() {
		_ = conn.Close()
		server.Stop()
	})
	if regErr != nil {
		t.Fatalf("register strategy: %v", regErr)
	}
	raw, err := p.GRPCClient(context.Background(), nil, conn)
	if err != nil {
		t.Fatalf("strategy client: %v", err)
	}
	return raw.(sdk.Strategy)
}
