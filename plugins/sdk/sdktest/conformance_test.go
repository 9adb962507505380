package sdktest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
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

// sloppy gets everything wrong that Conformance checks.
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
		{"validate", func(r tb) { checkValidate(r, sloppy{}, nil) }, "malformed settings must be rejected"},
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
