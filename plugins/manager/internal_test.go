package manager

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestHCLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	var cause string
	a := newHCLogAdapter(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})), func(c string) { cause = c })

	a.Debug("hidden")
	a.Named("stdio").With("k", "v").Warn("shown", "n", 1, "dangling")
	a.Error("plugin process exited", "plugin", "/p/vcr-strategy-x", "id", 7, "error", "exit status 3")

	out := buf.String()
	if strings.Contains(out, "hidden") {
		t.Errorf("debug line passed an info-level logger:\n%s", out)
	}
	for _, want := range []string{"level=WARN msg=shown", "k=v", "n=1", "extra=dangling", "logger=stdio"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
	if cause != "exit status 3" {
		t.Errorf("exit cause = %q", cause)
	}
	if a.IsDebug() || !a.IsInfo() || a.GetLevel() != hclog.Info {
		t.Errorf("levels: debug=%v info=%v level=%v", a.IsDebug(), a.IsInfo(), a.GetLevel())
	}
	a.Info("plugin process exited", "plugin", "x")
	if cause != "exit status 0" {
		t.Errorf("clean exit cause = %q", cause)
	}
}

func TestTailBuffer(t *testing.T) {
	tb := &tailBuffer{max: 64}
	_, _ = tb.Write([]byte(`{"@level":"info","@message":"json log"}` + "\nfirst\nsecond\n\nthird\n"))
	if got := tb.lastLines(2); got != "second | third" {
		t.Errorf("lastLines = %q", got)
	}
	if len(tb.buf) > 64 {
		t.Errorf("buffer grew to %d bytes", len(tb.buf))
	}
	p := &tailBuffer{max: 4096}
	_, _ = p.Write([]byte("panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/x/main.go:3 +0x1\n"))
	if got := p.lastLines(3); got != "panic: boom" {
		t.Errorf("panic lastLines = %q", got)
	}
}

// gRPC's timer for a deadline can end a call just before the context says
// it expired; such a call still timed out, and one far from its deadline did
// not.
func TestTimedOutNearTheDeadline(t *testing.T) {
	expired := fmt.Errorf("%w (plugin: deadline)", context.DeadlineExceeded)
	cases := []struct {
		name  string
		until time.Duration
		err   error
		want  bool
	}{
		{"gRPC deadline a moment before the context's", 20 * time.Millisecond, expired, true},
		{"plugin's own deadline error long before the call's", time.Hour, expired, false},
		{"another error near the deadline", 20 * time.Millisecond, errors.New("boom"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.until)
			cancel() // as the manager does before classifying
			if got := timedOut(ctx, tc.err); got != tc.want {
				t.Errorf("timedOut = %v, want %v", got, tc.want)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if !timedOut(ctx, errors.New("any")) {
		t.Error("a call whose context expired did not count as timed out")
	}
}
