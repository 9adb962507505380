package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/vcrcovery/vcrcovery/plugins/sdk/proto"
)

// GRPCPlugin is the go-plugin glue for a Strategy. Impl is set on the plugin
// side and nil on the host side.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Strategy

	// calls tracks in-flight calls on the plugin side so Serve can let them
	// unwind before the process exits.
	calls *sync.WaitGroup
}

// GRPCServer registers the server shim (plugin side).
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("sdk: GRPCPlugin.Impl is nil; pass your Strategy to sdk.Serve")
	}
	pb.RegisterStrategyServer(s, &GRPCServer{Impl: p.Impl, calls: p.calls})
	return nil
}

// GRPCClient returns the client shim (host side), which implements Strategy.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewGRPCClient(c), nil
}

// RemoteError is an error a strategy returned inside the plugin process. Its
// message is the plugin's error text, unchanged.
type RemoteError struct {
	Message string
}

func (e *RemoteError) Error() string { return e.Message }

// GRPCClient implements Strategy by calling a plugin over gRPC.
type GRPCClient struct {
	client pb.StrategyClient
}

var _ Strategy = (*GRPCClient)(nil)

// NewGRPCClient wraps an established gRPC connection to a strategy plugin.
func NewGRPCClient(conn grpc.ClientConnInterface) *GRPCClient {
	return &GRPCClient{client: pb.NewStrategyClient(conn)}
}

// Info implements Strategy.
func (c *GRPCClient) Info(ctx context.Context) (Info, error) {
	resp, err := c.client.Info(ctx, &pb.InfoRequest{})
	if err != nil {
		return Info{}, fromStatus(ctx, err)
	}
	return Info{Name: resp.GetName(), Version: resp.GetVersion(), Description: resp.GetDescription()}, nil
}

// ValidateConfig implements Strategy.
func (c *GRPCClient) ValidateConfig(ctx context.Context, settings json.RawMessage) error {
	resp, err := c.client.ValidateConfig(ctx, &pb.ValidateConfigRequest{Settings: settings})
	if err != nil {
		return fromStatus(ctx, err)
	}
	if msg := resp.GetError(); msg != "" {
		return &RemoteError{Message: msg}
	}
	return nil
}

// Prepare implements Strategy. Progress events are delivered on the calling
// goroutine, in order, before Prepare returns.
func (c *GRPCClient) Prepare(ctx context.Context, req PrepareRequest, progress ProgressFunc) (Endpoint, error) {
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
			return Endpoint{}, &RemoteError{Message: e.Error}
		}
	}
}

// Finalize implements Strategy.
func (c *GRPCClient) Finalize(ctx context.Context, req FinalizeRequest) error {
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
	if msg := resp.GetError(); msg != "" {
		return &RemoteError{Message: msg}
	}
	return nil
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
		return &RemoteError{Message: st.Message()}
	}
	return err
}

// TransportError means the call never got an answer because the connection
// to the plugin broke, usually because the plugin process exited.
type TransportError struct {
	Err error
}

func (e *TransportError) Error() string { return "plugin connection lost: " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// GRPCServer serves a Strategy over gRPC (plugin side).
type GRPCServer struct {
	pb.UnimplementedStrategyServer
	Impl  Strategy
	calls *sync.WaitGroup
}

func (s *GRPCServer) track() func() {
	if s.calls == nil {
		return func() {}
	}
	s.calls.Add(1)
	return s.calls.Done
}

// Info implements the gRPC service.
func (s *GRPCServer) Info(ctx context.Context, _ *pb.InfoRequest) (*pb.InfoResponse, error) {
	defer s.track()()
	info, err := s.Impl.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.InfoResponse{Name: info.Name, Version: info.Version, Description: info.Description}, nil
}

// ValidateConfig implements the gRPC service.
func (s *GRPCServer) ValidateConfig(ctx context.Context, req *pb.ValidateConfigRequest) (*pb.ValidateConfigResponse, error) {
	defer s.track()()
	if err := s.Impl.ValidateConfig(ctx, req.GetSettings()); err != nil {
		return &pb.ValidateConfigResponse{Error: errorText(err)}, nil
	}
	return &pb.ValidateConfigResponse{}, nil
}

// Prepare implements the gRPC service. Progress is sent from whatever
// goroutine the strategy calls it on, so sends are serialised; progress after
// Prepare has returned is dropped rather than racing the final message.
func (s *GRPCServer) Prepare(req *pb.PrepareRequest, stream grpc.ServerStreamingServer[pb.PrepareEvent]) error {
	defer s.track()()
	var (
		mu   sync.Mutex
		done bool
	)
	progress := func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		t := p.Time
		if t.IsZero() {
			t = time.Now()
		}
		// A failed send means the host went away; the strategy learns that
		// through its context, so the error is not worth surfacing here.
		_ = stream.Send(&pb.PrepareEvent{Event: &pb.PrepareEvent_Progress{
			Progress: &pb.Progress{TimeUnixNano: t.UnixNano(), Message: p.Message},
		}})
	}
	ep, err := s.Impl.Prepare(stream.Context(), PrepareRequest{
		IncidentID: req.GetIncidentId(),
		Service:    req.GetService(),
		Reason:     req.GetReason(),
		Settings:   req.GetSettings(),
		Shared:     req.GetShared(),
		Labels:     req.GetLabels(),
	}, progress)
	mu.Lock()
	done = true
	mu.Unlock()
	if err != nil {
		return stream.Send(&pb.PrepareEvent{Event: &pb.PrepareEvent_Error{Error: errorText(err)}})
	}
	return stream.Send(&pb.PrepareEvent{Event: &pb.PrepareEvent_Endpoint{Endpoint: endpointToProto(ep)}})
}

// Finalize implements the gRPC service.
func (s *GRPCServer) Finalize(ctx context.Context, req *pb.FinalizeRequest) (*pb.FinalizeResponse, error) {
	defer s.track()()
	err := s.Impl.Finalize(ctx, FinalizeRequest{
		IncidentID: req.GetIncidentId(),
		Service:    req.GetService(),
		Settings:   req.GetSettings(),
		Shared:     req.GetShared(),
		Endpoint:   endpointFromProto(req.GetEndpoint()),
	})
	if err != nil {
		return &pb.FinalizeResponse{Error: errorText(err)}, nil
	}
	return &pb.FinalizeResponse{}, nil
}

// errorText keeps an error's message but never sends an empty one, which
// the host would read as success.
func errorText(err error) string {
	if msg := err.Error(); msg != "" {
		return msg
	}
	return fmt.Sprintf("strategy returned an error with no message (%T)", err)
}

func toStatus(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, errorText(err))
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, errorText(err))
	}
	return status.Error(codes.Unknown, errorText(err))
}

func endpointToProto(ep Endpoint) *pb.Endpoint {
	return &pb.Endpoint{Address: ep.Address, Port: int32(ep.Port), Details: ep.Details}
}

func endpointFromProto(ep *pb.Endpoint) Endpoint {
	if ep == nil {
		return Endpoint{}
	}
	return Endpoint{Address: ep.GetAddress(), Port: int(ep.GetPort()), Details: ep.GetDetails()}
}
