package ui

import (
	"context"
	"errors"
)

// capacity fills the page's pre-flight section ("if it failed now"), which
// is left out when the source has no capacity view.
func (h *handler) capacity(ctx context.Context, p *page) {
	c, err := h.src.Capacity(ctx)
	switch {
	case errors.Is(err, ErrUnsupported):
	case err != nil:
		p.CapErr = h.problem("capacity view", err)
	default:
		p.Capacity = c
	}
}
