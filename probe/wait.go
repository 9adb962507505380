package probe

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Result tells how a Wait went, whether it succeeded or not.
type Result struct {
	Attempts int
	Elapsed  time.Duration
}

// NotReadyError is returned by Wait when ctx ends before the endpoint is
// ready. It wraps both the last attempt's failure and the context error, so
// errors.Is works for syscall.ECONNREFUSED, ErrUnexpectedStatus and
// context.DeadlineExceeded alike.
type NotReadyError struct {
	Target   string
	Attempts int
	Elapsed  time.Duration
	Last     error // nil when no attempt finished before ctx ended
	Ctx      error
}

func (e *NotReadyError) Error() string {
	if e.Last == nil {
		return fmt.Sprintf("%s not probed: no attempt finished within %s (%v): give the verify phase a longer deadline",
			e.Target, e.Elapsed.Round(time.Millisecond), e.Ctx)
	}
	return fmt.Sprintf("%v after %d attempts in %s: check that the service started on the standby and listens on %s",
		e.Last, e.Attempts, e.Elapsed.Round(time.Millisecond), e.Target)
}

func (e *NotReadyError) Unwrap() []error { return []error{e.Last, e.Ctx} }

// Wait retries the check every Interval until it succeeds or ctx ends. With
// no deadline on ctx it waits until ctx is cancelled, so callers should set
// one. Validation errors are returned at once with zero attempts.
func Wait(ctx context.Context, c Check) (Result, error) {
	start := time.Now()
	c, err := c.withDefaults()
	if err != nil {
		return Result{}, err
	}
	var (
		res  Result
		last error
	)
	// Go 1.23+ timers: Reset never delivers a stale tick, so no draining.
	timer := time.NewTimer(c.Interval)
	defer timer.Stop()
	for {
		if ctx.Err() != nil {
			break
		}
		err := attempt(ctx, c)
		res.Attempts++
		res.Elapsed = time.Since(start)
		if err == nil {
			return res, nil
		}
		// An attempt cut short by the caller's ctx says nothing about the
		// endpoint; keep the previous, real failure as the one to report.
		if ctx.Err() != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
			res.Attempts--
			break
		}
		last = err
		timer.Reset(c.Interval)
		select {
		case <-ctx.Done():
		case <-timer.C:
		}
	}
	res.Elapsed = time.Since(start)
	return res, &NotReadyError{Target: c.Target(), Attempts: res.Attempts, Elapsed: res.Elapsed, Last: last, Ctx: ctx.Err()}
}
