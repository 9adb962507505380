package live

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vcrcovery/vcrcovery/plugins/manager"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// failingStrategies answers every call with err.
type failingStrategies struct{ err error }

func (f failingStrategies) Prepare(context.Context, string, sdk.PrepareRequest, sdk.ProgressFunc) (sdk.Endpoint, error) {
	return sdk.Endpoint{}, f.err
}
func (f failingStrategies) Finalize(context.Context, string, sdk.FinalizeRequest) error { return f.err }
func (f failingStrategies) Abort(context.Context, string, sdk.AbortRequest) error       { return f.err }
func (f failingStrategies) ValidateConfig(context.Context, string, sdk.ValidateRequest) error {
	return f.err
}

// TestRestartsCounted: the calls the manager answers by replacing the
// plugin's process are counted by reason; the plugin's own errors are not.
func TestRestartsCounted(t *testing.T) {
	for _, tc := range []struct {
		err    error
		reason string
	}{
		{fmt.Errorf("%w: plugin vcr-strategy-warm did not answer within 1s during prepare", manager.ErrPluginTimeout), "timeout"},
		{fmt.Errorf("%w: plugin vcr-strategy-warm exited during finalize: signal: killed", manager.ErrPluginExited), "exited"},
		{fmt.Errorf("prepare via plugin vcr-strategy-warm: lost the connection to the plugin: %w", &sdk.TransportError{Err: errors.New("EOF")}), "connection"},
		{errors.New("strategy warm: prepare: container web does not exist"), ""},
		{fmt.Errorf("strategy warm: Abort: %w", &sdk.UnsupportedError{Call: "Abort", Version: 1}), ""},
		{nil, ""},
	} {
		reg := prometheus.NewRegistry()
		s := CountRestarts(failingStrategies{tc.err}, reg)
		s.Prepare(context.Background(), "warm", sdk.PrepareRequest{}, nil)
		s.Finalize(context.Background(), "warm", sdk.FinalizeRequest{})
		s.Abort(context.Background(), "warm", sdk.AbortRequest{})
		n, _ := testutil.GatherAndCount(reg, "vcr_plugin_restarts_total")
		if tc.reason == "" {
			if n != 0 {
				t.Errorf("%v counted as a restart", tc.err)
			}
			continue
		}
		if got := testutil.ToFloat64(s.restarts.WithLabelValues("warm", tc.reason)); got != 3 {
			t.Errorf("%v: vcr_plugin_restarts_total{reason=%q} = %v, want 3", tc.err, tc.reason, got)
		}
	}
}
