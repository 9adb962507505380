package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// attentionStrategies fails every Prepare with an error the strategy marked
// as needing a person.
type attentionStrategies struct {
	okStrategies
	calls *int
}

func (s attentionStrategies) Prepare(context.Context, string, sdk.PrepareRequest, sdk.ProgressFunc) (sdk.Endpoint, error) {
	*s.calls++
	return sdk.Endpoint{}, fmt.Errorf("strategy warm: Prepare: %w", sdk.NeedsAttention(errors.New("standby has 1 vCPU free, web needs 2")))
}

// A Prepare error marked with sdk.NeedsAttention stops the incident in
// needs-attention after one attempt, with the strategy's message, and
// switches nothing.
func TestPrepareNeedsAttentionStopsAtOnce(t *testing.T) {
	dns := &countingDNS{}
	p := newTestPipeline(t, dns)
	calls := 0
	p.prepare.Strategies = attentionStrategies{calls: &calls}
	h := &fakeHeld{inc: newIncident()}
	p.Run(context.Background(), h)
	if h.inc.State != api.StateNeedsAttention || calls != 1 || dns.replaces != 0 {
		t.Fatalf("state %s after %d prepares and %d switches; want needs-attention after 1 and none", h.inc.State, calls, dns.replaces)
	}
	if !strings.Contains(h.inc.Error, "standby has 1 vCPU free, web needs 2") {
		t.Errorf("incident error %q does not carry the strategy's message", h.inc.Error)
	}
	if ph := h.inc.Phase(api.PhasePrepare); ph == nil || ph.Outcome != api.OutcomeFailed || ph.Attempts != 1 {
		t.Errorf("prepare phase = %+v", ph)
	}
}
