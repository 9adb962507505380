package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
)

// A Prepare error marked with NeedsAttention stays marked on the host side,
// wrapped or not, with its message unchanged; an unmarked one is not marked.
func TestNeedsAttentionCrossesTheProcessBoundary(t *testing.T) {
	const msg = "standby has 1 vCPU free, web needs 2: free the standby or give it more CPUs"
	for _, tc := range []struct {
		name string
		err  error
		want bool
		text string
	}{
		{"marked", sdk.NeedsAttention(errors.New(msg)), true, msg},
		{"marked, then wrapped", fmt.Errorf("warm web: %w", sdk.NeedsAttention(errors.New(msg))), true, "warm web: " + msg},
		{"unmarked", errors.New(msg), false, msg},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := errors.Is(tc.err, sdk.ErrNeedsAttention); got != tc.want {
				t.Fatalf("in process: errors.Is = %v", got)
			}
			s := sdktest.GRPC(t, &fake{prepareErr: tc.err})
			_, err := s.Prepare(context.Background(), sdk.PrepareRequest{}, nil)
			if err == nil || err.Error() != tc.text || errors.Is(err, sdk.ErrNeedsAttention) != tc.want {
				t.Fatalf("over gRPC: err = %v, needs attention %v; want %q, %v", err, errors.Is(err, sdk.ErrNeedsAttention), tc.text, tc.want)
			}
		})
	}
}
