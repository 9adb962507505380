package live

import (
	"context"

	"github.com/vcrcovery/vcrcovery/probe"
	"github.com/vcrcovery/vcrcovery/receiver"
)

// Prober checks endpoints with package probe.
type Prober struct{}

func toProbe(c receiver.Check) probe.Check {
	return probe.Check{Address: c.Address, Port: c.Port, HTTPPath: c.HTTPPath, ExpectStatus: c.ExpectStatus}
}

// Once implements receiver.Prober.
func (Prober) Once(ctx context.Context, c receiver.Check) error { return probe.Once(ctx, toProbe(c)) }

// Wait implements receiver.Prober.
func (Prober) Wait(ctx context.Context, c receiver.Check) error {
	_, err := probe.Wait(ctx, toProbe(c))
	return err
}
