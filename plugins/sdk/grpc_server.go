package sdk

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/vcrcovery/vcrcovery/plugins/sdk/internal/proto"
)

// grpcServer serves a Strategy over gRPC (plugin side).
type grpcServer struct {
	pb.UnimplementedStrategyServer
	impl  Strategy
	calls *sync.WaitGroup
}

func (s *grpcServer) track() func() {
	if s.calls == nil {
		return func() {}
	}
	s.calls.Add(1)
	return s.calls.Done
}

// Info implements the gRPC service.
func (s *grpcServer) Info(ctx context.Context, _ *pb.InfoRequest) (*pb.InfoResponse, error) {
	defer s.track()()
	info, err := s.impl.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.InfoResponse{Name: info.Name, Version: info.Version, Description: info.Description}, nil
}

// ValidateConfig implements the gRPC service.
func (s *grpcServer) ValidateConfig(ctx context.Context, req *pb.ValidateConfigRequest) (*pb.ValidateConfigResponse, error) {
	defer s.track()()
	err := s.impl.ValidateConfig(ctx, ValidateRequest{
		Service:  req.GetService(),
		Settings: req.GetSettings(),
		Shared:   req.GetShared(),
	})
	if err != nil {
		return &pb.ValidateConfigResponse{Error: errorText(err)}, nil
	}
	return &pb.ValidateConfigResponse{}, nil
}

// Prepare implements the gRPC service. Progress is sent from whatever
// goroutine the strategy calls it on, so sends are serialised; progress after
// Prepare has returned is dropped rather than racing the final message.
func (s *grpcServer) Prepare(req *pb.PrepareRequest, stream grpc.ServerStreamingServer[pb.PrepareEvent]) error {
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
	ep, err := s.impl.Prepare(stream.Context(), PrepareRequest{
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
		return stream.Send(&pb.PrepareEvent{Event: &pb.PrepareEvent_Error{Error: wireText(err)}})
	}
	return stream.Send(&pb.PrepareEvent{Event: &pb.PrepareEvent_Endpoint{Endpoint: endpointToProto(ep)}})
}

// Finalize implements the gRPC service.
func (s *grpcServer) Finalize(ctx context.Context, req *pb.FinalizeRequest) (*pb.FinalizeResponse, error) {
	defer s.track()()
	err := s.impl.Finalize(ctx, FinalizeRequest{
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

// Abort implements the gRPC service (protocol version 2).
func (s *grpcServer) Abort(ctx context.Context, req *pb.AbortRequest) (*pb.AbortResponse, error) {
	defer s.track()()
	err := s.impl.Abort(ctx, AbortRequest{
		IncidentID: req.GetIncidentId(),
		Service:    req.GetService(),
		Reason:     req.GetReason(),
		Settings:   req.GetSettings(),
		Shared:     req.GetShared(),
		Endpoint:   endpointFromProto(req.GetEndpoint()),
	})
	if err != nil {
		return &pb.AbortResponse{Error: errorText(err)}, nil
	}
	return &pb.AbortResponse{}, nil
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
