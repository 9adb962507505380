package ui

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/vcrcovery/vcrcovery/internal/humanize"
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

// shortText says what the standbys lack: "2 vCPUs and 1.0 GiB".
func shortText(cpus float64, memory int64) string {
	var parts []string
	if cpus > 0 {
		parts = append(parts, fmtCPUs(cpus)+" vCPUs")
	}
	if memory > 0 {
		parts = append(parts, humanize.Bytes(memory))
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, " and ")
}

func fmtCPUs(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
