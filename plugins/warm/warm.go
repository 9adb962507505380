package warm

import (
	"context"
	"fmt"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
	"github.com/vcrcovery/vcrcovery/plugins/ownership"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// Version is the strategy's version, shown by Info.
const Version = "0.1.0"

// Strategy is the warm-standby strategy. The zero value is ready to use.
type Strategy struct{}

var _ sdk.Strategy = Strategy{}

// Info implements sdk.Strategy.
func (Strategy) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "warm", Version: Version,
		Description: "warm standby: make sure the service's container runs on the standby LXD and return its proxy address"}, nil
}

// ValidateConfig implements sdk.Strategy.
func (Strategy) ValidateConfig(_ context.Context, req sdk.ValidateRequest) error {
	s, err := ParseSettings(req.Settings)
	if err != nil {
		return err
	}
	if err := strategy.CheckRemotes(req.Shared, map[string]string{"remote": s.Remote}); err != nil {
		return fmt.Errorf("warm settings: %w", err)
	}
	return nil
}

// Prepare implements sdk.Strategy: it starts the container if it does not run
// and returns the proxy device's listen address.
func (Strategy) Prepare(ctx context.Context, req sdk.PrepareRequest, progress sdk.ProgressFunc) (sdk.Endpoint, error) {
	s, shared, err := strategy.ParseRequest(req.Settings, req.Shared, ParseSettings)
	if err != nil {
		return sdk.Endpoint{}, err
	}
	name := s.InstanceFor(req.Service)
	c, remote, err := strategy.ConnectRemote(ctx, shared, s.Remote)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("warm %s: %w", req.Service, err)
	}
	inst, _, err := c.GetInstance(ctx, name)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("warm %s: %w", req.Service, notFoundHint(err, name, s.Remote))
	}
	// A warm standby is often made by hand, so an unmarked instance is
	// fine; one marked for another service is not this service's standby.
	if err := ownership.CheckNotOthers(inst, s.Remote, req.Service, "start it and switch the service to it"); err != nil {
		return sdk.Endpoint{}, fmt.Errorf("warm %s: %w", req.Service, err)
	}
	listening := strategy.ListenHost(inst, s.ProxyDevice)
	addr, own, err := strategy.ServiceAddress(ctx, c, s.Remote, remote, name, s.Address, listening)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("warm %s: %w", req.Service, err)
	}
	fallback := remote.Address
	if own {
		fallback = addr
	}
	// Read the endpoint before starting, so a misconfigured proxy fails the
	// recovery without side effects.
	ep, err := strategy.ProxyEndpoint(inst, s.ProxyDevice, fallback)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("warm %s: %w", req.Service, err)
	}
	if own && addr != listening {
		// The service's own address, so that services on the same port
		// share the standby; a running container's proxy moves at once.
		if err := strategy.Listen(ctx, c, name, s.ProxyDevice, addr); err != nil {
			return sdk.Endpoint{}, fmt.Errorf("warm %s: %w", req.Service, err)
		}
		strategy.Report(progress, "instance %s listens on its own address %s", name, addr)
		ep.Address = addr
	}
	if inst.StatusCode != lxd.StatusRunning && inst.StatusCode != lxd.StatusFrozen {
		need, declared := strategy.Declared(shared, req.Service)
		if err := strategy.Admit(ctx, c, s.Remote, name, need, declared, progress); err != nil {
			return sdk.Endpoint{}, fmt.Errorf("warm %s: %w", req.Service, err)
		}
	}
	was, err := strategy.EnsureRunning(ctx, c, name, &ep, progress)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("warm %s: %w", req.Service, err)
	}
	ep.Details = map[string]string{"remote": s.Remote, "instance": name, "status_before": was}
	if s.Sync != "" {
		if err := promote(ctx, s, req.Service, ep.Details, progress); err != nil {
			return sdk.Endpoint{}, fmt.Errorf("warm %s: %w", req.Service, err)
		}
	}
	strategy.Report(progress, "instance %s on %s serves at %s:%d", name, s.Remote, ep.Address, ep.Port)
	return ep, nil
}

// Finalize implements sdk.Strategy; a warm standby has nothing to clean up.
func (Strategy) Finalize(context.Context, sdk.FinalizeRequest) error { return nil }

// Abort implements sdk.Strategy: it leaves the container running. A warm
// standby runs before an incident and after it; stopping it would only make
// the next recovery slower.
func (Strategy) Abort(context.Context, sdk.AbortRequest) error { return nil }
