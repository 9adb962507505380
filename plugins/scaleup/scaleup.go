package scaleup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
	"github.com/vcrcovery/vcrcovery/plugins/ownership"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// Version is the strategy's version, shown by Info.
const Version = "0.1.0"

// Strategy is the scale-up strategy. The zero value is ready to use.
type Strategy struct {
	// afterStep is a test hook, see mover.
	afterStep func(step string)
}

var _ sdk.Strategy = (*Strategy)(nil)

// Info implements sdk.Strategy.
func (*Strategy) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "scaleup", Version: Version,
		Description: "scale-up: move the busiest containers from an overloaded standby to a bigger VM (live, else stateless with pre-copy)"}, nil
}

// ValidateConfig implements sdk.Strategy.
func (*Strategy) ValidateConfig(_ context.Context, req sdk.ValidateRequest) error {
	s, err := ParseSettings(req.Settings)
	if err != nil {
		return err
	}
	if err := strategy.CheckRemotes(req.Shared, map[string]string{"source": s.Source, "target": s.Target}); err != nil {
		return fmt.Errorf("scaleup settings: %w", err)
	}
	return checkAddressScheme(s, req.Shared)
}

// checkAddressScheme refuses a scale-up that would lose the services'
// own addresses: when the source gives each service an address of its own
// (address_pool), the target must too (address_pool or target_address), or
// services on the same port would collide on the target's one address.
func checkAddressScheme(s Settings, rawShared json.RawMessage) error {
	if len(bytes.TrimSpace(rawShared)) == 0 || s.TargetAddress != "" {
		return nil
	}
	shared, err := strategy.ParseShared(rawShared)
	if err != nil {
		return err
	}
	if shared.LXDRemotes[s.Source].AddressPool != "" && shared.LXDRemotes[s.Target].AddressPool == "" {
		return fmt.Errorf("scaleup settings: the source %q gives each service its own address (address_pool) but the target %q has no address_pool and no target_address is set: give lxd_remotes.%s an address_pool, or set target_address, so the service keeps an address of its own after the move", s.Source, s.Target, s.Target)
	}
	return nil
}

// Prepare implements sdk.Strategy: measure, choose, move. It returns the
// service's own endpoint: on the target if its container moved, else where it
// already was.
func (st *Strategy) Prepare(ctx context.Context, req sdk.PrepareRequest, progress sdk.ProgressFunc) (sdk.Endpoint, error) {
	s, shared, err := strategy.ParseRequest(req.Settings, req.Shared, ParseSettings)
	if err != nil {
		return sdk.Endpoint{}, err
	}
	src, _, err := strategy.ConnectRemote(ctx, shared, s.Source)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("scaleup %s: source: %w", req.Service, err)
	}
	dst, dstRemote, err := strategy.ConnectRemote(ctx, shared, s.Target)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("scaleup %s: target: %w; nothing was moved", req.Service, err)
	}

	m := &mover{
		src: src, dst: dst, srcName: s.Source, dstName: s.Target,
		dstRemote: dstRemote, own: s.instance(req.Service), ownAddress: s.TargetAddress, shared: shared,
		device: s.ProxyDevice, live: s.Live,
		service: req.Service, incident: req.IncidentID,
		progress: progress, afterStep: st.afterStep,
	}
	own := s.instance(req.Service)
	// An earlier attempt of this incident may have moved some containers, or
	// died halfway through a move: keep what it finished, undo the rest.
	moved, err := m.resume(ctx, s.candidates(req.Service))
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("scaleup %s: %w", req.Service, err)
	}
	if slices.Contains(moved, own) {
		ep, err := m.targetEndpoint(ctx, own)
		if err != nil {
			return sdk.Endpoint{}, fmt.Errorf("scaleup %s: %w", req.Service, err)
		}
		strategy.Report(progress, "an earlier attempt of this incident moved %s; it runs on %s at %s:%d", strings.Join(moved, ", "), s.Target, ep.Address, ep.Port)
		ep.Details = map[string]string{"source": s.Source, "target": s.Target, "moved": strings.Join(moved, ","),
			"migration": MethodAlreadyMoved, "reason": "moved by an earlier attempt of this incident"}
		return ep, nil
	}

	strategy.Report(progress, "sampling CPU of the instances on %s over %s", s.Source, time.Duration(s.SampleInterval))
	usages, err := Sample(ctx, src, time.Duration(s.SampleInterval))
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("scaleup %s: %w", req.Service, err)
	}
	choice, err := Choose(usages, s.candidates(req.Service), s.MaxMoves, s.TargetLoad)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("scaleup %s: %w", req.Service, err)
	}
	strategy.Report(progress, "choice: %s", choice.Explanation)

	details := map[string]string{
		"source": s.Source, "target": s.Target,
		"choice": choice.Explanation,
	}
	for _, u := range usages {
		details["cpu."+u.Instance] = strconv.FormatFloat(u.CPU, 'f', 3, 64)
	}
	// The service's own container moves last: if an earlier one fails, the
	// service has not been touched and DNS needs no switch.
	order := slices.Clone(choice.Move)
	if i := slices.Index(order, own); i >= 0 {
		order = append(append(order[:i:i], order[i+1:]...), own)
	}
	var ownResult *moveResult
	for _, name := range order {
		res, err := m.move(ctx, name)
		if err != nil {
			if len(moved) == 0 || name == own {
				if len(moved) > 0 {
					err = fmt.Errorf("%w (already moved: %s; finalize will remove their source copies, abort puts them back)", err, strings.Join(moved, ", "))
				}
				return sdk.Endpoint{}, fmt.Errorf("scaleup %s: %w", req.Service, err)
			}
			details["failed."+name] = err.Error()
			strategy.Report(progress, "moving %s failed, continuing: %v", name, err)
			continue
		}
		moved = append(moved, name)
		details["migration."+name] = res.Method
		details["downtime_ms."+name] = strconv.FormatInt(res.Downtime.Milliseconds(), 10)
		if res.LiveError != "" {
			details["live_error."+name] = res.LiveError
		}
		strategy.Report(progress, "%s now runs on %s at %s:%d (%s)", name, s.Target, res.Endpoint.Address, res.Endpoint.Port, res.Method)
		if name == own {
			ownResult = &res
		}
	}
	details["moved"] = strings.Join(moved, ",")

	var ep sdk.Endpoint
	if ownResult != nil {
		ep = ownResult.Endpoint
		details["migration"] = ownResult.Method
		if ownResult.LiveError != "" {
			details["reason"] = ownResult.LiveError
		}
	} else {
		// The service itself stays; its endpoint is unchanged.
		inst, _, err := src.GetInstance(ctx, own)
		if err != nil {
			return sdk.Endpoint{}, fmt.Errorf("scaleup %s: moved %v but cannot read the service's own instance %q: %w", req.Service, moved, own, err)
		}
		if ep, err = strategy.ProxyEndpoint(inst, s.ProxyDevice, ""); err != nil {
			return sdk.Endpoint{}, fmt.Errorf("scaleup %s: %w", req.Service, err)
		}
		details["migration"] = "none"
		details["reason"] = own + " was not chosen; it stays on " + s.Source
	}
	ep.Details = details
	return ep, nil
}

// Finalize implements sdk.Strategy: once DNS points at the target, the
// source copies of the moved instances are deleted, each only if its target
// copy runs and the source copy is this service's. A second Finalize finds
// them gone and does nothing.
func (st *Strategy) Finalize(ctx context.Context, req sdk.FinalizeRequest) error {
	s, shared, err := strategy.ParseRequest(req.Settings, req.Shared, ParseSettings)
	if err != nil {
		return err
	}
	movedList := req.Endpoint.Details["moved"]
	if movedList == "" {
		return nil
	}
	src, _, err := strategy.ConnectRemote(ctx, shared, s.Source)
	if err != nil {
		return fmt.Errorf("scaleup %s finalize: %w; the source copies of %s remain: delete them by hand once it is back", req.Service, err, movedList)
	}
	dst, _, err := strategy.ConnectRemote(ctx, shared, s.Target)
	if err != nil {
		return fmt.Errorf("scaleup %s finalize: %w; source copies kept because the target cannot be checked", req.Service, err)
	}
	var errs []error
	for name := range strings.SplitSeq(movedList, ",") {
		stt, err := dst.GetInstanceState(ctx, name)
		if err != nil || !stt.Running() {
			errs = append(errs, fmt.Errorf("%s does not run on %s (%v); its source copy on %s is kept", name, s.Target, err, s.Source))
			continue
		}
		inst, _, err := src.GetInstance(ctx, name)
		if errors.Is(err, lxd.ErrNotFound) {
			continue // deleted by an earlier Finalize
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("read the source copy of %s on %s: %w", name, s.Source, err))
			continue
		}
		if err := ownership.Check(inst, s.Source, req.Service, "delete it as the moved container's old copy"); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := strategy.RemoveInstance(ctx, src, name); err != nil {
			errs = append(errs, fmt.Errorf("delete the source copy of %s on %s: %w", name, s.Source, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("scaleup %s finalize: %w", req.Service, err)
	}
	return nil
}
