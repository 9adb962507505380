package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/go-plugin"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// startServing starts the test binary as a plugin serving protocol version
// (0: every version the SDK supports, as sdk.Serve does) under a host built
// from hostConfig, and returns the dispensed Strategy.
func startServing(t *testing.T, hostConfig func(*exec.Cmd) *plugin.ClientConfig, version int) (sdk.Strategy, *plugin.Client) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a plugin process")
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{envServeVersion + "=" + strconv.Itoa(version)}
	client := plugin.NewClient(hostConfig(cmd))
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("start: %v", sdk.ExplainStartError("vcr-strategy-fake", err))
	}
	s, err := sdk.Dispense(rpc)
	if err != nil {
		t.Fatal(err)
	}
	return s, client
}

// A plugin from before protocol 2 serves version 1 only: the host still runs
// its recovery, and Abort fails with ErrUnsupported without reaching it.
func TestVersion1PluginHasNoAbort(t *testing.T) {
	s, client := startServing(t, sdk.ClientConfig, 1)
	if v := client.NegotiatedVersion(); v != 1 {
		t.Fatalf("negotiated version %d with a version-1 plugin", v)
	}
	ctx := context.Background()
	ep, err := s.Prepare(ctx, sdk.PrepareRequest{Service: "web"}, nil)
	if err != nil || ep.Port != 8080 {
		t.Fatalf("Prepare through a version-1 plugin = %+v, %v", ep, err)
	}
	if err := s.Finalize(ctx, sdk.FinalizeRequest{Service: "web", Endpoint: ep}); err != nil {
		t.Fatalf("Finalize through a version-1 plugin: %v", err)
	}
	if err := s.ValidateConfig(ctx, sdk.ValidateRequest{Settings: json.RawMessage(`{}`), Shared: json.RawMessage(`{"backup_dir":"/b"}`)}); err != nil {
		t.Errorf("ValidateConfig with shared settings through a version-1 plugin: %v", err)
	}
	err = s.Abort(ctx, sdk.AbortRequest{Service: "web"})
	var unsupported *sdk.UnsupportedError
	if !errors.Is(err, sdk.ErrUnsupported) || !errors.As(err, &unsupported) || unsupported.Version != 1 {
		t.Fatalf("Abort through a version-1 plugin = %v, want an UnsupportedError for version 1", err)
	}
	if !strings.Contains(err.Error(), "Abort is not supported by this plugin (protocol v1)") {
		t.Errorf("Abort error %q does not say the plugin lacks it", err)
	}
}

// A host from before protocol 2 offers version 1 only; a current plugin
// still serves it.
func TestCurrentPluginServesVersion1Host(t *testing.T) {
	v1Host := func(cmd *exec.Cmd) *plugin.ClientConfig {
		cfg := sdk.ClientConfig(cmd)
		for v := range cfg.VersionedPlugins {
			if v != 1 {
				delete(cfg.VersionedPlugins, v)
			}
		}
		return cfg
	}
	s, client := startServing(t, v1Host, 0)
	if v := client.NegotiatedVersion(); v != 1 {
		t.Fatalf("negotiated version %d with a version-1 host", v)
	}
	if _, err := s.Prepare(context.Background(), sdk.PrepareRequest{Service: "web"}, nil); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
}

// Offered every version, host and plugin settle on the newest.
func TestNegotiatesNewestVersion(t *testing.T) {
	s, client := startServing(t, sdk.ClientConfig, 0)
	if v := client.NegotiatedVersion(); v != sdk.ProtocolVersion {
		t.Fatalf("negotiated version %d, want %d", v, sdk.ProtocolVersion)
	}
	if err := s.Abort(context.Background(), sdk.AbortRequest{Service: "web"}); err != nil {
		t.Fatalf("Abort through a current plugin: %v", err)
	}
}
