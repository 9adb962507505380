package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
)

// ErrUnexpectedStatus is wrapped by errors from an HTTP check whose response
// status was not the expected one.
var ErrUnexpectedStatus = errors.New("unexpected HTTP status")

// Once makes exactly one attempt and returns nil if the endpoint is ready.
// The attempt is bounded by AttemptTimeout and by ctx.
func Once(ctx context.Context, c Check) error {
	c, err := c.withDefaults()
	if err != nil {
		return err
	}
	return attempt(ctx, c)
}

func attempt(ctx context.Context, c Check) error {
	ctx, cancel := context.WithTimeout(ctx, c.AttemptTimeout)
	defer cancel()
	switch {
	case c.MySQL != nil:
		return mysqlAttempt(ctx, c)
	case c.HTTPPath == "":
		return tcpAttempt(ctx, c)
	}
	return httpAttempt(ctx, c)
}

func tcpAttempt(ctx context.Context, c Check) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.Target())
	if err != nil {
		return describe(c, err)
	}
	_ = conn.Close()
	return nil
}

func httpAttempt(ctx context.Context, c Check) error {
	url := "http://" + c.Target() + c.HTTPPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("probe %s: bad HTTP path %q: %w: fix the check's http path", c.Target(), c.HTTPPath, err)
	}
	// A fresh transport per attempt: a pooled keep-alive connection could
	// hide the fact that the listener behind it has gone, or not come up yet.
	tr := &http.Transport{DisableKeepAlives: true, Proxy: nil}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		var uerr interface{ Unwrap() error }
		if errors.As(err, &uerr) {
			err = uerr.Unwrap() // drop url.Error's `Get "http://..."` prefix; describe names the target
		}
		return describe(c, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode != c.ExpectStatus {
		return &AttemptError{
			Target: c.Target(),
			Reason: fmt.Sprintf("HTTP GET %s returned %d, want %d", url, resp.StatusCode, c.ExpectStatus),
			Err:    ErrUnexpectedStatus,
		}
	}
	return nil
}

// AttemptError is one failed attempt. Its message is a short sentence that
// names the target ("connection refused on 127.0.0.2:8080"); the underlying
// network error stays reachable through errors.Is and errors.As.
type AttemptError struct {
	Target string
	Reason string
	Err    error
}

func (e *AttemptError) Error() string { return e.Reason }
func (e *AttemptError) Unwrap() error { return e.Err }

// describe classifies a dial or transport error into an AttemptError.
func describe(c Check, err error) error {
	t := c.Target()
	var reason string
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		reason = "connection refused on " + t
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		reason = fmt.Sprintf("no answer within %s on %s", c.AttemptTimeout, t)
	case errors.Is(err, context.Canceled):
		reason = "probe of " + t + " cancelled"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		reason = "no route to " + t
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		reason = "connection to " + t + " closed before an answer"
	default:
		reason = fmt.Sprintf("probe %s: %v", t, err)
	}
	return &AttemptError{Target: t, Reason: reason, Err: err}
}
