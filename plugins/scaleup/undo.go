package scaleup

import (
	"context"
	"errors"
	"fmt"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
	"github.com/vcrcovery/vcrcovery/plugins/ownership"
)

// copies is what the two daemons hold of one instance, and which of it this
// incident made or adopted.
type copies struct {
	src, dst         *lxd.Instance // nil: none there
	srcOurs, dstOurs bool
}

// finished says whether the move of this instance is complete: the target
// runs this incident's copy and the source's copy no longer serves.
func (c copies) finished() bool {
	return c.dstOurs && c.dst.StatusCode == lxd.StatusRunning && (c.src == nil || c.src.StatusCode != lxd.StatusRunning)
}

func (m *mover) look(ctx context.Context, name string) (copies, error) {
	var c copies
	var err error
	if c.src, err = get(ctx, m.src, name); err != nil {
		return c, fmt.Errorf("source %q: %w", m.srcName, err)
	}
	if c.dst, err = get(ctx, m.dst, name); err != nil {
		return c, fmt.Errorf("target %q: %w", m.dstName, err)
	}
	c.srcOurs = c.src != nil && ownership.Of(c.src).IsIncident(m.service, m.incident)
	c.dstOurs = c.dst != nil && ownership.Of(c.dst).IsIncident(m.service, m.incident)
	return c, nil
}

// resume looks at what earlier attempts of this incident left of each
// candidate. A finished move is kept and returned; a move that stopped
// halfway (the plugin died, the host gave up) is undone, so the attempt
// that follows starts from a source that serves.
func (m *mover) resume(ctx context.Context, names []string) (moved []string, err error) {
	for _, name := range names {
		c, err := m.look(ctx, name)
		if err != nil {
			return moved, err
		}
		switch {
		case c.finished():
			moved = append(moved, name)
		case c.srcOurs || c.dstOurs:
			m.report("an earlier attempt of this incident left the move of %s unfinished; undoing it first", name)
			if err := m.undoSource(ctx, name, c); err != nil {
				return moved, err
			}
			if err := m.undoTarget(ctx, name, c); err != nil {
				return moved, err
			}
		}
	}
	return moved, nil
}

// undoSource makes the source's copy serve again if this incident froze or
// stopped it.
func (m *mover) undoSource(ctx context.Context, name string, c copies) error {
	if !c.srcOurs || c.src.StatusCode == lxd.StatusRunning {
		return nil
	}
	m.report("%s is %s on %s; starting it again", name, c.src.Status, m.srcName)
	if _, err := strategy.EnsureRunning(ctx, m.src, name, nil, nil); err != nil {
		return fmt.Errorf("%s on %s is %s and could not be started again: %w: start it by hand (lxc unfreeze %s, or lxc start %s)", name, m.srcName, c.src.Status, err, name, name)
	}
	return nil
}

// undoTarget removes the target's copy if this incident made it.
func (m *mover) undoTarget(ctx context.Context, name string, c copies) error {
	if !c.dstOurs {
		return nil
	}
	m.report("removing %s's copy from %s", name, m.dstName)
	if err := strategy.RemoveInstance(ctx, m.dst, name); err != nil {
		return fmt.Errorf("could not remove %s's copy from %s: %w: delete it by hand once %s is back (lxc delete --force %s)", name, m.dstName, err, m.dstName, name)
	}
	return nil
}

// get returns the instance name, or nil if it does not exist.
func get(ctx context.Context, c *lxd.Client, name string) (*lxd.Instance, error) {
	inst, _, err := c.GetInstance(ctx, name)
	if errors.Is(err, lxd.ErrNotFound) {
		return nil, nil
	}
	return inst, err
}
