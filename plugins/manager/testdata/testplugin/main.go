// Command testplugin is a strategy plugin whose misbehaviour is chosen per
// call, for the manager's tests: settings {"mode": "ok"|"noop"|"crash"|"panic"|
// "hang"|"wait"|"fail"}.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

type testStrategy struct{}

type settings struct {
	Mode string `json:"mode"`
}

func (testStrategy) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "testplug", Version: "0.0.1", Description: "misbehaves on request"}, nil
}

func parse(raw json.RawMessage) (settings, error) {
	var s settings
	if len(raw) == 0 {
		return settings{Mode: "ok"}, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("settings: %w", err)
	}
	switch s.Mode {
	case "", "ok", "noop", "crash", "panic", "hang", "wait", "fail":
	default:
		return s, fmt.Errorf("settings.mode: unknown mode %q", s.Mode)
	}
	return s, nil
}

func (testStrategy) ValidateConfig(_ context.Context, req sdk.ValidateRequest) error {
	_, err := parse(req.Settings)
	return err
}

func (testStrategy) Prepare(ctx context.Context, req sdk.PrepareRequest, progress sdk.ProgressFunc) (sdk.Endpoint, error) {
	s, err := parse(req.Settings)
	if err != nil {
		return sdk.Endpoint{}, err
	}
	if s.Mode == "noop" {
		return sdk.Endpoint{Address: "127.0.0.1", Port: 8080}, nil
	}
	progress(sdk.Progress{Message: "mode " + s.Mode})
	pid := map[string]string{"pid": strconv.Itoa(os.Getpid())}
	switch s.Mode {
	case "crash":
		fmt.Fprintln(os.Stderr, "testplugin: giving up on purpose")
		time.Sleep(50 * time.Millisecond) // let the progress and stderr leave
		os.Exit(3)
	case "panic":
		time.Sleep(50 * time.Millisecond)
		panic("testplugin: boom")
	case "hang":
		time.Sleep(time.Hour) // ignores ctx on purpose
	case "wait":
		<-ctx.Done()
		return sdk.Endpoint{}, ctx.Err()
	case "fail":
		return sdk.Endpoint{}, errors.New("standby unreachable: connection refused; check lxd_remotes.standby")
	}
	return sdk.Endpoint{Address: "127.0.0.1", Port: 8080, Details: pid}, nil
}

func (testStrategy) Finalize(context.Context, sdk.FinalizeRequest) error { return nil }

// Abort fails in mode "fail", so the manager's tests see an abort error
// travel back; otherwise it has nothing to undo.
func (testStrategy) Abort(_ context.Context, req sdk.AbortRequest) error {
	if s, err := parse(req.Settings); err != nil || s.Mode == "fail" {
		return errors.New("abort: source unreachable; unfreeze it by hand")
	}
	return nil
}

func main() {
	// TESTPLUGIN_PROTOCOL makes the plugin speak another protocol version,
	// to exercise the host's refusal.
	if v := os.Getenv("TESTPLUGIN_PROTOCOL"); v != "" {
		n, _ := strconv.Atoi(v)
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig:  sdk.Handshake(),
			VersionedPlugins: map[int]plugin.PluginSet{n: sdk.VersionedPlugins(testStrategy{})[sdk.ProtocolVersion]},
			GRPCServer:       plugin.DefaultGRPCServer,
		})
		return
	}
	sdk.Serve(testStrategy{})
}
