package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/vcrcovery/vcrcovery/plugins/sdk/internal/proto"
)

// RemoteError is an error a strategy returned inside the plugin process. Its
// message is the plugin's error text, unchanged.
type RemoteError struct {
	Message string
	// attention says the plugin marked the error with NeedsAttention.
	attention bool
}

func (e *RemoteError) Error() string { return e.Message }

// Is makes errors.Is(err, ErrNeedsAttention) true for an error the plugin
// marked with NeedsAttention.
func (e *RemoteError) Is(target error) bool { return target == ErrNeedsAttention && e.attention }

// TransportError means the call never got an answer because the connection
// to the plugin broke, usually because the plugin process exited.
type TransportError struct {
	Err error
}

func (e *TransportError) Error() string { return "plugin connection lost: " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// grpcClient implements Strategy by calling a plugin over gRPC (host side).
type grpcClient struct {
	client pb.StrategyClient
	// version is the protocol version negotiated with the plugin.
	version int
}

var _ Strategy = (*grpcClient)(nil)

// Info implements Strategy.
func (c *grpcClient) Info(ctx context.Context) (Info, error) {
	resp, err := c.client.Info(ctx, &pb.InfoRequest{})
	if err != nil {
		return Info{}, fromStatus(ctx, err)
	}
	return Info{Name: resp.GetName(), Version: resp.GetVersion(), Description: resp.GetDescription()}, nil
}

// ValidateConfig implements Strategy.
func (c *grpcClient) ValidateConfig(ctx context.Context, req ValidateRequest) error {
	// A version-1 plugin ignores the fields it does not know.
	resp, err := c.client.ValidateConfig(ctx, &pb.ValidateConfigRequest{
		Settings: req.Settings,
		Shared:   req.Shared,
		Service:  req.Service,
	})
	if err != nil {
		return fromStatus(ctx, err)
	}
	return remote(resp.GetError())
}

// Prepare implements Strategy. Progress events are delivered on the calling
// goroutine, in order, before Prepare returns.
func (c *grpcClient) Prepare(ctx context.Context, req PrepareRequest, progress ProgressFunc) (Endpoint, error) {
	stream, err := c.client.Prepare(ctx, &pb.PrepareRequest{
		IncidentId: req.IncidentID,
		Service:    req.Service,
		Reason:     req.Reason,
		Settings:   req.Settings,
		Shared:     req.Shared,
		Labels:     req.Labels,
	})
	if err != nil {
		return Endpoint{}, fromStatus(ctx, err)
	}
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return Endpoint{}, errors.New("plugin closed the Prepare stream without an endpoint or an error; this is a plugin bug, report it to its author")
		}
		if err != nil {
			return Endpoint{}, fromStatus(ctx, err)
		}
		switch e := ev.GetEvent().(type) {
		case *pb.PrepareEvent_Progress:
			if progress != nil {
				progress(Progress{Time: time.Unix(0, e.Progress.GetTimeUnixNano()), Message: e.Progress.GetMessage()})
			}
		case *pb.PrepareEvent_Endpoint:
			return endpointFromProto(e.Endpoint), nil
		case *pb.PrepareEvent_Error:
			return Endpoint{}, fromWire(e.Error)
		}
	}
}

// Finalize implements Strategy.
func (c *grpcClient) Finalize(ctx context.Context, req FinalizeRequest) error {
	resp, err := c.client.Finalize(ctx, &pb.FinalizeRequest{
		IncidentId: req.IncidentID,
		Service:    req.Service,
		Settings:   req.Settings,
		Shared:     req.Shared,
		Endpoint:   endpointToProto(req.Endpoint),
	})
	if err != nil {
		return fromStatus(ctx, err)
	}
	return remote(resp.GetError())
}

// Abort implements Strategy. A plugin that negotiated protocol version 1 has
// no Abort: the call fails with an *UnsupportedError without reaching it.
func (c *grpcClient) Abort(ctx context.Context, req AbortRequest) error {
	if c.version < sinceVersion["Abort"] {
		return &UnsupportedError{Call: "Abort", Version: c.version}
	}
	resp, err := c.client.Abort(ctx, &pb.AbortRequest{
		IncidentId: req.IncidentID,
		Service:    req.Service,
		Reason:     req.Reason,
		Settings:   req.Settings,
		Shared:     req.Shared,
		Endpoint:   endpointToProto(req.Endpoint),
	})
	if err != nil {
		if status.Code(err) == codes.Unimplemented {
			// A plugin that claims version 2 but registered no Abort.
			return &UnsupportedError{Call: "Abort", Version: c.version}
		}
		return fromStatus(ctx, err)
	}
	return remote(resp.GetError())
}

// remote turns the error text of a response into an error; empty is success.
func remote(msg string) error {
	if msg == "" {
		return nil
	}
	return fromWire(msg)
}

// fromStatus maps a gRPC failure back to a Go error: the caller's own
// cancellation or deadline stays errors.Is-comparable with the context
// errors, a plugin error keeps its message, and a transport failure says so.
func fromStatus(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Canceled:
		return fmt.Errorf("%w (plugin: %s)", context.Canceled, st.Message())
	case codes.DeadlineExceeded:
		return fmt.Errorf("%w (plugin: %s)", context.DeadlineExceeded, st.Message())
	case codes.Unavailable:
		return &TransportError{Err: err}
	case codes.Unknown:
		return fromWire(st.Message())
	}
	return err
}
