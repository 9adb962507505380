package live

import (
	"context"

	"github.com/vcrcovery/vcrcovery/probe"
	"github.com/vcrcovery/vcrcovery/receiver/pipeline"
)

// Prober checks endpoints with package probe.
type Prober struct{}

func toProbe(c pipeline.Check) probe.Check {
	p := probe.Check{Address: c.Address, Port: c.Port, HTTPPath: c.HTTPPath, ExpectStatus: c.ExpectStatus}
	if m := c.MySQL; m != nil {
		p.MySQL = &probe.MySQL{User: m.User, Password: m.Password, Query: m.Query}
	}
	return p
}

// Once implements pipeline.Prober.
func (Prober) Once(ctx context.Context, c pipeline.Check) error { return probe.Once(ctx, toProbe(c)) }

// Wait implements pipeline.Prober.
func (Prober) Wait(ctx context.Context, c pipeline.Check) error {
	_, err := probe.Wait(ctx, toProbe(c))
	return err
}
