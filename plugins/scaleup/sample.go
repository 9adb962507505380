package scaleup

import (
	"context"
	"fmt"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
)

// Sample measures the CPU rate of every running instance on c: it reads
// each one's cumulative CPU time twice, interval apart, and divides the
// difference by the time between the two reads of that instance.
func Sample(ctx context.Context, c *lxd.Client, interval time.Duration) ([]Usage, error) {
	insts, err := c.ListInstances(ctx)
	if err != nil {
		return nil, fmt.Errorf("sample CPU: %w", err)
	}
	type reading struct {
		at    time.Time
		usage int64
	}
	first := map[string]reading{}
	var names []string
	for _, in := range insts {
		if in.StatusCode != lxd.StatusRunning {
			continue
		}
		st, err := c.GetInstanceState(ctx, in.Name)
		if err != nil || !st.Running() {
			continue // stopped meanwhile
		}
		first[in.Name] = reading{time.Now(), st.CPU.Usage}
		names = append(names, in.Name)
	}
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("sample CPU: %w", ctx.Err())
	case <-time.After(interval):
	}
	var out []Usage
	for _, n := range names {
		st, err := c.GetInstanceState(ctx, n)
		if err != nil || !st.Running() {
			continue
		}
		now := time.Now()
		f := first[n]
		dt := now.Sub(f.at).Seconds()
		du := float64(st.CPU.Usage-f.usage) / 1e9
		if dt <= 0 || du < 0 { // restarted between samples: no rate
			du = 0
		}
		out = append(out, Usage{Instance: n, CPU: du / dt})
	}
	return out, nil
}
