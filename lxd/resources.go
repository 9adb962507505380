package lxd

import (
	"context"
	"fmt"
	"net/http"
)

// Resources is the part of GET /1.0/resources that a capacity check needs:
// what the daemon's machine (the standby VM) has.
type Resources struct {
	CPU struct {
		// Total is the number of CPU threads the daemon sees.
		Total int `json:"total"`
	} `json:"cpu"`
	Memory struct {
		Total int64 `json:"total"` // bytes
		Used  int64 `json:"used"`  // bytes, by everything on the machine
	} `json:"memory"`
}

// GetResources fetches GET /1.0/resources, the daemon machine's CPUs and
// memory.
func (c *Client) GetResources(ctx context.Context) (*Resources, error) {
	var r Resources
	if _, err := c.query(ctx, request{method: http.MethodGet, path: "/1.0/resources", noProj: true}, &r); err != nil {
		return nil, fmt.Errorf("get resources: %w", err)
	}
	return &r, nil
}
