package sdktest

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// garbage is settings no strategy may accept: none of it is a JSON object.
var garbage = []json.RawMessage{
	json.RawMessage(`{not json`),
	json.RawMessage(`[1, 2`),
	json.RawMessage("\x00\x01binary"),
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

func checkValidate(t tb, s sdk.Strategy, valid, shared json.RawMessage) {
	t.Helper()
	ctx := context.Background()
	for _, g := range garbage {
		if err := s.ValidateConfig(ctx, sdk.ValidateRequest{Service: "web", Settings: g, Shared: shared}); err == nil {
			t.Errorf("ValidateConfig(%q) = nil; malformed settings must be rejected at config load", g)
		} else if err.Error() == "" {
			t.Errorf("ValidateConfig(%q) returned an error with no message", g)
		}
	}
	if valid != nil {
		if err := s.ValidateConfig(ctx, sdk.ValidateRequest{Service: "web", Settings: valid, Shared: shared}); err != nil {
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
