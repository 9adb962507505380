package lxd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"time"
)

// LXD status codes of operations (and instances).
const (
	StatusOperationCreated = 100
	StatusStarted          = 101
	StatusStopped          = 102
	StatusRunning          = 103
	StatusCancelling       = 104
	StatusPending          = 105
	StatusStarting         = 106
	StatusStopping         = 107
	StatusAborting         = 108
	StatusFreezing         = 109
	StatusFrozen           = 110
	StatusThawed           = 111
	StatusError            = 112
	StatusSuccess          = 200
	StatusFailure          = 400
	StatusCancelled        = 401
)

// Operation is one of LXD's background operations.
type Operation struct {
	ID          string              `json:"id"`
	Class       string              `json:"class"` // task, websocket or token
	Description string              `json:"description"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
	Status      string              `json:"status"`
	StatusCode  int                 `json:"status_code"`
	Resources   map[string][]string `json:"resources"`
	Metadata    map[string]any      `json:"metadata"`
	MayCancel   bool                `json:"may_cancel"`
	Err         string              `json:"err"`
	Location    string              `json:"location"`

	client *Client
}

// Done reports whether the operation reached a final state.
func (op *Operation) Done() bool {
	return op.StatusCode == StatusSuccess || op.StatusCode == StatusFailure || op.StatusCode == StatusCancelled
}

// Error returns the operation's failure as an *Error, or nil if it has not
// failed (yet).
func (op *Operation) Error() error {
	if op.StatusCode != StatusFailure && op.StatusCode != StatusCancelled {
		return nil
	}
	msg := op.Err
	if msg == "" {
		msg = op.Status
	}
	return &Error{StatusCode: op.StatusCode, Message: msg, Operation: op.ID, Path: "/1.0/operations/" + op.ID}
}

// Secrets returns the string values of the operation's metadata: for a
// migration source these are the websocket secrets ("control", "fs" and,
// when live, "criu") that the pulling target must present.
func (op *Operation) Secrets() map[string]string {
	out := map[string]string{}
	for k, v := range op.Metadata {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// Wait blocks until the operation is done, the timeout passes (timeout <= 0
// means no timeout of its own) or ctx ends. It refreshes op in place and
// returns the operation's failure as an *Error, ErrOperationTimeout (wrapped)
// if it is still running, or ctx's error. The daemon keeps running the
// operation in the last two cases; call Cancel to stop it.
func (op *Operation) Wait(ctx context.Context, timeout time.Duration) error {
	got, err := op.client.WaitOperation(ctx, op.ID, timeout)
	if got != nil {
		c := op.client
		*op = *got
		op.client = c
	}
	return err
}

// Cancel asks LXD to cancel the operation. Only operations with MayCancel
// set (migrations, for instance) can be cancelled.
func (op *Operation) Cancel(ctx context.Context) error {
	return op.client.CancelOperation(ctx, op.ID)
}

// GetOperation fetches an operation's current state.
func (c *Client) GetOperation(ctx context.Context, id string) (*Operation, error) {
	var op Operation
	if _, err := c.query(ctx, request{method: http.MethodGet, path: "/1.0/operations/" + pathEscape(id), noProj: true}, &op); err != nil {
		return nil, fmt.Errorf("get operation %s: %w", id, err)
	}
	op.client = c
	return &op, nil
}

// CancelOperation cancels an operation (DELETE /1.0/operations/{id}).
func (c *Client) CancelOperation(ctx context.Context, id string) error {
	if _, err := c.query(ctx, request{method: http.MethodDelete, path: "/1.0/operations/" + pathEscape(id), noProj: true}, nil); err != nil {
		return fmt.Errorf("cancel operation %s: %w", id, err)
	}
	return nil
}

// WaitOperation waits on /1.0/operations/{id}/wait; see Operation.Wait. The
// returned operation is its last known state, also on timeout.
func (c *Client) WaitOperation(ctx context.Context, id string, timeout time.Duration) (*Operation, error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	var last *Operation
	for {
		secs := -1 // the server waits until done; ctx aborts the request
		wctx, cancel := ctx, context.CancelFunc(func() {})
		if !deadline.IsZero() {
			rem := time.Until(deadline)
			if rem <= 0 {
				return last, fmt.Errorf("wait for operation %s (%s): %w", id, timeout, ErrOperationTimeout)
			}
			// The server only takes whole seconds, so the local deadline is
			// what makes the timeout exact.
			secs = int(math.Ceil(rem.Seconds()))
			wctx, cancel = context.WithDeadline(ctx, deadline)
		}
		var op Operation
		_, err := c.query(wctx, request{
			method: http.MethodGet, path: "/1.0/operations/" + pathEscape(id) + "/wait",
			query: url.Values{"timeout": {strconv.Itoa(secs)}}, stream: true, noProj: true,
		}, &op)
		cancel()
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				return last, fmt.Errorf("wait for operation %s (%s): %w", id, timeout, ErrOperationTimeout)
			}
			return last, fmt.Errorf("wait for operation %s: %w", id, err)
		}
		op.client = c
		last = &op
		if op.Done() {
			return last, op.Error()
		}
	}
}

// async sends a request that LXD answers with a background operation.
func (c *Client) async(ctx context.Context, r request) (*Operation, error) {
	env, _, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if env.Type != "async" {
		return nil, fmt.Errorf("lxd: %s %s: expected a background operation, got a %q answer", r.method, r.path, env.Type)
	}
	var op Operation
	if len(env.Metadata) > 0 && string(env.Metadata) != "null" {
		if err := json.Unmarshal(env.Metadata, &op); err != nil {
			return nil, fmt.Errorf("lxd: %s %s: decode operation: %w", r.method, r.path, err)
		}
	}
	if op.ID == "" && env.Operation != "" {
		op.ID = path.Base(env.Operation)
	}
	if op.ID == "" {
		return nil, fmt.Errorf("lxd: %s %s: answer names no operation", r.method, r.path)
	}
	op.client = c
	return &op, nil
}

// run sends an async request and waits for it. If ctx ends first, it cancels
// the operation where LXD allows that, so nothing keeps going unobserved.
func (c *Client) run(ctx context.Context, r request) (*Operation, error) {
	op, err := c.async(ctx, r)
	if err != nil {
		return nil, err
	}
	if err := op.Wait(ctx, 0); err != nil {
		if ctx.Err() != nil && op.MayCancel {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = op.Cancel(cctx)
			cancel()
		}
		return op, err
	}
	return op, nil
}
