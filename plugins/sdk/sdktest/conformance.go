package sdktest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// Fixture is what Conformance needs to know about a strategy: settings it
// accepts, a recovery it can run, and, for a strategy that changes things
// outside its process (containers, files), how to look at and reset them.
type Fixture struct {
	// Settings must pass ValidateConfig (with Shared). Nil skips that half
	// of the check; malformed settings are always refused.
	Settings json.RawMessage
	// Shared is the receiver-wide settings sent with every call.
	Shared json.RawMessage

	// Request is a recovery Prepare completes. Its Settings and Shared
	// default to the fields above, its IncidentID to "sdktest-1". Nil skips
	// the idempotency checks.
	Request *sdk.PrepareRequest
	// Reset puts the world back as it is before an incident; it runs
	// before each idempotency check. Nil: the strategy changes nothing
	// outside its process.
	Reset func(t testing.TB)
	// State describes the world, one string the checks compare: what exists
	// (instances, files), whose it is and whether it serves. Two calls with
	// nothing changed in between must return the same string. Nil skips the
	// comparisons.
	State func(t testing.TB) string
	// Crash leaves the world as a Prepare of Request that died halfway
	// would (the plugin killed between two steps). Nil skips that check.
	Crash func(t testing.TB)

	// BlockingPrepare is a request that keeps Prepare busy for several
	// seconds (for a command strategy: `sleep 30`). Conformance cancels it
	// and expects Prepare to give up. Nil skips the cancellation check.
	BlockingPrepare *sdk.PrepareRequest
	// CancelWithin is how soon Prepare must return after its context is
	// cancelled. Zero means 5s.
	CancelWithin time.Duration
}

// Conformance checks what the receiver relies on. newStrategy returns a
// fresh strategy, the way a restarted plugin process starts afresh; the
// checks use a new one wherever the receiver could have restarted the
// plugin, so a strategy cannot pass by remembering in memory.
//
// Both calling newStrategy's strategy directly and over real gRPC (the way
// the receiver calls it):
//   - Info names the strategy and its version;
//   - ValidateConfig rejects malformed JSON and accepts fx.Settings;
//   - Prepare returns soon after its context is cancelled.
//
// Over gRPC, against the world fx describes (the idempotency contract, see
// the SDK README):
//   - Prepare twice gives the same endpoint and changes nothing the second time;
//   - Finalize twice is harmless;
//   - Abort after Prepare restores the world as it was before Prepare, and
//     a second Abort changes nothing;
//   - Abort without a Prepare changes nothing;
//   - Prepare after a crash halfway through completes, with the endpoint
//     and the world a clean Prepare gives.
func Conformance(t *testing.T, newStrategy func() sdk.Strategy, fx Fixture) {
	t.Helper()
	if fx.CancelWithin <= 0 {
		fx.CancelWithin = 5 * time.Second
	}
	direct := func(impl sdk.Strategy) sdk.Strategy { return impl }
	t.Run("in-process", func(t *testing.T) { checkCalls(t, newStrategy, direct, fx) })
	t.Run("grpc", func(t *testing.T) {
		overGRPC := func(impl sdk.Strategy) sdk.Strategy { return GRPC(t, impl) }
		checkCalls(t, newStrategy, overGRPC, fx)
	})
	if fx.Request == nil {
		return
	}
	t.Run("idempotency", func(t *testing.T) {
		w := &world{fx: fx, req: fx.request(), newStrategy: func(t testing.TB) sdk.Strategy { return GRPC(t, newStrategy()) }}
		t.Run("PrepareTwice", func(t *testing.T) { checkPrepareTwice(t, t, w) })
		t.Run("FinalizeTwice", func(t *testing.T) { checkFinalizeTwice(t, t, w) })
		t.Run("AbortAfterPrepare", func(t *testing.T) { checkAbortAfterPrepare(t, t, w) })
		t.Run("AbortWithoutPrepare", func(t *testing.T) { checkAbortWithoutPrepare(t, t, w) })
		t.Run("PrepareAfterCrash", func(t *testing.T) {
			if fx.Crash == nil {
				t.Skip("no Fixture.Crash given")
			}
			checkPrepareAfterCrash(t, t, w)
		})
	})
}

// request is fx.Request with its defaults filled in.
func (fx Fixture) request() sdk.PrepareRequest {
	r := *fx.Request
	if r.IncidentID == "" {
		r.IncidentID = "sdktest-1"
	}
	if r.Settings == nil {
		r.Settings = fx.Settings
	}
	if r.Shared == nil {
		r.Shared = fx.Shared
	}
	return r
}

// tb is the part of testing.TB the checks report through, so the harness's
// own tests can show that each check fails a misbehaving strategy.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

func checkCalls(t *testing.T, newStrategy func() sdk.Strategy, wrap func(sdk.Strategy) sdk.Strategy, fx Fixture) {
	t.Run("Info", func(t *testing.T) { checkInfo(t, wrap(newStrategy())) })
	t.Run("ValidateConfig", func(t *testing.T) { checkValidate(t, wrap(newStrategy()), fx.Settings, fx.Shared) })
	t.Run("PrepareCancel", func(t *testing.T) {
		if fx.BlockingPrepare == nil {
			t.Skip("no Fixture.BlockingPrepare given")
		}
		checkCancel(t, newStrategy(), wrap, *fx.BlockingPrepare, fx.CancelWithin)
	})
}
