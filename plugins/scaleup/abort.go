package scaleup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// Abort implements sdk.Strategy: every container this incident moved (or
// began to move) serves from the source again, and its copy on the target is
// removed. Sources come first, because a frozen source is the service's
// outage; the target copies follow. A container whose source copy is gone
// was finalized: its move is final and its target copy stays. Instances this
// incident did not make or adopt are never touched, so Abort without a
// Prepare, or a second Abort, changes nothing.
func (st *Strategy) Abort(ctx context.Context, req sdk.AbortRequest) error {
	s, shared, err := strategy.ParseRequest(req.Settings, req.Shared, ParseSettings)
	if err != nil {
		return err
	}
	src, _, err := strategy.ConnectRemote(ctx, shared, s.Source)
	if err != nil {
		return fmt.Errorf("scaleup %s abort: source: %w; unfreeze the service's containers there by hand (lxc unfreeze)", req.Service, err)
	}
	dst, _, err := strategy.ConnectRemote(ctx, shared, s.Target)
	if err != nil {
		return fmt.Errorf("scaleup %s abort: target: %w; the source copies were left as they are", req.Service, err)
	}
	m := &mover{src: src, dst: dst, srcName: s.Source, dstName: s.Target, service: req.Service, incident: req.IncidentID}
	names := s.candidates(req.Service)
	for name := range strings.SplitSeq(req.Endpoint.Details["moved"], ",") {
		if name != "" && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	found := make(map[string]copies, len(names))
	var errs []error
	for _, name := range names {
		c, err := m.look(ctx, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		found[name] = c
		if err := m.undoSource(ctx, name, c); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range names {
		c, ok := found[name]
		if !ok || c.src == nil {
			continue // unknown, or finalized: the target copy is the service now
		}
		if err := m.undoTarget(ctx, name, c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("scaleup %s abort: %w", req.Service, err)
	}
	return nil
}
