package sdktest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// recorder collects failures instead of failing the real test, so these tests
// can show that each check catches a misbehaving strategy.
type recorder struct {
	failures []string
}

func (r *recorder) Helper()             {}
func (r *recorder) Logf(string, ...any) {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

// run runs check the way the testing package would: Fatalf ends it.
func run(check func(tb)) []string {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r)
	}()
	<-done
	return r.failures
}

// sloppy gets everything wrong that the per-call checks look at.
type sloppy struct{}

func (sloppy) Info(context.Context) (sdk.Info, error)                    { return sdk.Info{Name: "sloppy"}, nil }
func (sloppy) ValidateConfig(context.Context, sdk.ValidateRequest) error { return nil }
func (sloppy) Prepare(context.Context, sdk.PrepareRequest, sdk.ProgressFunc) (sdk.Endpoint, error) {
	time.Sleep(2 * time.Second) // ignores its context
	return sdk.Endpoint{Address: "127.0.0.1", Port: 1}, nil
}
func (sloppy) Finalize(context.Context, sdk.FinalizeRequest) error { return nil }
func (sloppy) Abort(context.Context, sdk.AbortRequest) error       { return nil }

func TestChecksCatchASloppyStrategy(t *testing.T) {
	direct := func(s sdk.Strategy) sdk.Strategy { return s }
	overGRPC := func(s sdk.Strategy) sdk.Strategy { return GRPC(t, s) }
	for _, tc := range []struct {
		name  string
		check func(tb)
		want  string
	}{
		{"info", func(r tb) { checkInfo(r, sloppy{}) }, "Name and Version must be set"},
		{"validate", func(r tb) { checkValidate(r, sloppy{}, nil, nil) }, "malformed settings must be rejected"},
		{"cancel direct", func(r tb) {
			checkCancel(r, sloppy{}, direct, sdk.PrepareRequest{}, 500*time.Millisecond)
		}, "still running"},
		{"cancel over gRPC", func(r tb) {
			checkCancel(r, sloppy{}, overGRPC, sdk.PrepareRequest{}, 500*time.Millisecond)
		}, "still running"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failures := run(tc.check)
			if !strings.Contains(strings.Join(failures, "\n"), tc.want) {
				t.Errorf("failures = %q, want one mentioning %q", failures, tc.want)
			}
		})
	}
}

// things is an in-memory world: what a toy strategy "runs", by name.
type things struct {
	mu sync.Mutex
	m  map[string]string
}

func (w *things) set(k, v string) { w.mu.Lock(); w.m[k] = v; w.mu.Unlock() }
func (w *things) get(k string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.m[k]
}
func (w *things) del(k string) { w.mu.Lock(); delete(w.m, k); w.mu.Unlock() }
func (w *things) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(w.m)) {
		lines = append(lines, k+" "+w.m[k])
	}
	return strings.Join(lines, "\n")
}

// toy is a strategy over things that starts "svc" on Prepare and removes
// it on Abort. Each flag makes it break one rule of the contract.
type toy struct {
	w *things
	// duplicates starts another copy on each Prepare, on a new port.
	duplicates bool
	// finalizeOnce fails a second Finalize.
	finalizeOnce bool
	// leaky leaves svc running on Abort.
	leaky bool
	// greedy removes "other", which it never made, on Abort.
	greedy bool
	// stuck fails when it finds svc half started.
	stuck bool
}

func (toy) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "toy", Version: "1"}, nil
}
func (toy) ValidateConfig(_ context.Context, req sdk.ValidateRequest) error {
	var v map[string]any
	return json.Unmarshal(req.Settings, &v)
}
func (s toy) Prepare(_ context.Context, req sdk.PrepareRequest, _ sdk.ProgressFunc) (sdk.Endpoint, error) {
	switch {
	case s.stuck && s.w.get("svc") == "half":
		return sdk.Endpoint{}, fmt.Errorf("svc is half started; clean it up by hand")
	case s.duplicates:
		n := len(s.w.String())
		s.w.set(fmt.Sprintf("svc-%d", n), "running")
		return sdk.Endpoint{Address: "127.0.0.1", Port: 8000 + n}, nil
	}
	s.w.set("svc", "running "+req.IncidentID)
	return sdk.Endpoint{Address: "127.0.0.1", Port: 8080}, nil
}
func (s toy) Finalize(context.Context, sdk.FinalizeRequest) error {
	if s.finalizeOnce && s.w.get("finalized") != "" {
		return fmt.Errorf("already finalized")
	}
	s.w.set("finalized", "yes")
	return nil
}
func (s toy) Abort(context.Context, sdk.AbortRequest) error {
	if s.greedy {
		s.w.del("other")
	}
	if !s.leaky {
		s.w.del("svc")
	}
	return nil
}

// toyWorld returns a world for the checks around a toy built by mk.
func toyWorld(t *testing.T, mk func(*things) toy) *world {
	w := &things{m: map[string]string{}}
	fx := Fixture{
		Request: &sdk.PrepareRequest{Service: "svc"},
		Reset: func(testing.TB) {
			w.mu.Lock()
			w.m = map[string]string{"other": "running"}
			w.mu.Unlock()
		},
		State: func(testing.TB) string { return w.String() },
		Crash: func(testing.TB) { w.set("svc", "half") },
	}
	return &world{fx: fx, req: fx.request(), newStrategy: func(t testing.TB) sdk.Strategy { return GRPC(t, mk(w)) }}
}

func TestConformanceOfAToy(t *testing.T) {
	w := &things{m: map[string]string{}}
	Conformance(t, func() sdk.Strategy { return toy{w: w} }, Fixture{
		Settings: json.RawMessage(`{}`),
		Request:  &sdk.PrepareRequest{Service: "svc"},
		Reset:    func(testing.TB) { w.mu.Lock(); w.m = map[string]string{"other": "running"}; w.mu.Unlock() },
		State:    func(testing.TB) string { return w.String() },
		Crash:    func(testing.TB) { w.set("svc", "half") },
	})
}

func TestIdempotencyChecksCatchMisbehaviour(t *testing.T) {
	for _, tc := range []struct {
		name  string
		toy   func(*things) toy
		check func(tb, testing.TB, *world)
		want  string
	}{
		{"duplicate on a second Prepare", func(w *things) toy { return toy{w: w, duplicates: true} }, checkPrepareTwice, "a second Prepare of the same incident returned"},
		{"second Finalize fails", func(w *things) toy { return toy{w: w, finalizeOnce: true} }, checkFinalizeTwice, "second Finalize of the same incident: already finalized"},
		{"Abort leaves the service", func(w *things) toy { return toy{w: w, leaky: true} }, checkAbortAfterPrepare, "Abort did not put the world back"},
		{"Abort removes what it never made", func(w *things) toy { return toy{w: w, greedy: true} }, checkAbortWithoutPrepare, "Abort without a Prepare changed the world"},
		{"Prepare stuck after a crash", func(w *things) toy { return toy{w: w, stuck: true} }, checkPrepareAfterCrash, "Prepare after a crash halfway: svc is half started"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := toyWorld(t, tc.toy)
			failures := run(func(r tb) { tc.check(r, t, w) })
			if !strings.Contains(strings.Join(failures, "\n"), tc.want) {
				t.Errorf("failures = %q, want one mentioning %q", failures, tc.want)
			}
		})
	}
}
