package sdktest

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// Options tunes Conformance for one strategy.
type Options struct {
	// ValidSettings, when set, must pass ValidateConfig.
	ValidSettings json.RawMessage
	// BlockingPrepare is a request that keeps Prepare busy for several
	// seconds (for a command strategy: `sleep 30`). Conformance cancels it
	// and expects Prepare to give up. Nil skips the cancellation check.
	BlockingPrepare *sdk.PrepareRequest
	// CancelWithin is how soon Prepare must return after its context is
	// cancelled. Zero means 5s.
	CancelWithin time.Duration
}

// garbage is settings no strategy may accept: none of it is a JSON object.
var garbage = []json.RawMessage{
	json.RawMessage(`{not json`),
	json.RawMessage(`[1, 2`),
	json.RawMessage("\x00\x01binary"),
}

// Conformance checks what the receiver relies on, twice: calling s directly
// and over real gRPC (the way the receiver calls it):
//   - Info names the strategy and its version;
//   - ValidateConfig rejects malformed JSON and accepts opts.ValidSettings;
//   - Prepare returns soon after its context is cancelled.
func Conformance(t *testing.T, s sdk.Strategy, opts Options) {
	t.Helper()
	if opts.CancelWithin <= 0 {
		opts.CancelWithin = 5 * time.Second
	}
	t.Run("in-process", func(t *testing.T) {
		checkAll(t, s, func(impl sdk.Strategy) sdk.Strategy { return impl }, opts)
	})
	t.Run("grpc", func(t *testing.T) {
		checkAll(t, s, func(impl sdk.Strategy) sdk.Strategy { return GRPC(t, impl) }, opts)
	})
}

// tb is the part of testing.TB the checks use, so the harness's own tests can
// show that each check fails a misbehaving strategy.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

func checkAll(t *testing.T, s sdk.Strategy, wrap func(sdk.Strategy) sdk.Strategy, opts Options) {
	t.Run("Info", func(t *testing.T) { checkInfo(t, wrap(s)) })
	t.Run("ValidateConfig", func(t *testing.T) { checkValidate(t, wrap(s), opts.ValidSettings) })
	t.Run("PrepareCancel", func(t *testing.T) {
		if opts.BlockingPrepare == nil {
			t.Skip("no Options.BlockingPrepare given")
		}
		checkCancel(t, s, wrap, *opts.BlockingPrepare, opts.CancelWithin)
	})
}

func checkInfo(t tb, s sdk.Strategy) {
	t.Helper()
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Name == "" || info.Version == "" {
		t.Errorf("Info = %+v; Name and Version must be set, the receiver logs them with every recovery", info)
	}
}

func checkValidate(t tb, s sdk.Strategy, valid json.RawMessage) {
	t.Helper()
	ctx := context.Background()
	for _, g := range garbage {
		if err := s.ValidateConfig(ctx, sdk.ValidateRequest{Settings: g}); err == nil {
			t.Errorf("ValidateConfig(%q) = nil; malformed settings must be rejected at config load", g)
		} else if err.Error() == "" {
			t.Errorf("ValidateConfig(%q) returned an error with no message", g)
		}
	}
	if valid != nil {
		if err := s.ValidateConfig(ctx, sdk.ValidateRequest{Settings: valid}); err != nil {
			t.Errorf("ValidateConfig(valid settings %s) = %v", valid, err)
		}
	}
}

// checkCancel watches the implementation itself, not just the host side: a
// gRPC client returns as soon as its context ends even if the plugin keeps
// working, which is exactly the leak this check exists to catch.
func checkCancel(t tb, s sdk.Strategy, wrap func(sdk.Strategy) sdk.Strategy, req sdk.PrepareRequest, within time.Duration) {
	t.Helper()
	rec := &returnRecorder{Strategy: s, returned: make(chan error, 1)}
	c := wrap(rec)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	hostDone := make(chan error, 1)
	go func() {
		_, err := c.Prepare(ctx, req, nil)
		hostDone <- err
	}()
	// Give the strategy time to get properly busy before cancelling.
	select {
	case err := <-rec.returned:
		t.Fatalf("BlockingPrepare returned before it was cancelled (err=%v); give a request that keeps Prepare busy", err)
	case <-time.After(300 * time.Millisecond):
	}
	cancel()
	cancelled := time.Now()
	select {
	case err := <-rec.returned:
		if err == nil {
			t.Errorf("Prepare succeeded after its context was cancelled; it should return an error")
		}
		t.Logf("strategy returned %s after cancellation: %v", time.Since(cancelled).Round(time.Millisecond), err)
	case <-time.After(within):
		t.Fatalf("Prepare still running %s after its context was cancelled; pass ctx to everything that blocks", within)
	}
	select {
	case err := <-hostDone:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("caller got %v; want an error wrapping context.Canceled", err)
		}
	case <-time.After(within):
		t.Fatalf("caller's Prepare did not return %s after cancellation", within)
	}
}

type returnRecorder struct {
	sdk.Strategy
	once     sync.Once
	returned chan error
}

func (r *returnRecorder) Prepare(ctx context.Context, req sdk.PrepareRequest, progress sdk.ProgressFunc) (sdk.Endpoint, error) {
	ep, err := r.Strategy.Prepare(ctx, req, progress)
	r.once.Do(func() { r.returned <- err })
	return ep, err
}
