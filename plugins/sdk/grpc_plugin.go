package sdk

import (
	"context"
	"errors"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/vcrcovery/vcrcovery/plugins/sdk/internal/proto"
)

// grpcPlugin is the go-plugin glue for a Strategy: go-plugin calls
// GRPCServer in the plugin process and GRPCClient in the host. impl is set
// on the plugin side and nil on the host side. Hosts and plugins reach it
// only through VersionedPlugins, so the generated gRPC types stay internal.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Strategy
	// version is the protocol version this plugin set stands for.
	version int

	// calls tracks in-flight calls on the plugin side so Serve can let them
	// unwind before the process exits.
	calls *sync.WaitGroup
}

// GRPCServer registers the server shim (plugin side).
func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.impl == nil {
		return errors.New("sdk: no Strategy to serve; pass your Strategy to sdk.Serve")
	}
	pb.RegisterStrategyServer(s, &grpcServer{impl: p.impl, calls: p.calls})
	return nil
}

// GRPCClient returns the client shim (host side), which implements Strategy.
func (p *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &grpcClient{client: pb.NewStrategyClient(c), version: p.version}, nil
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
