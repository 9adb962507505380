package lxd

import (
	"context"
	"fmt"
	"net/http"
)

// Profile is an LXD profile (GET /1.0/profiles/{name}).
type Profile struct {
	Name        string                       `json:"name"`
	Description string                       `json:"description"`
	Config      map[string]string            `json:"config"`
	Devices     map[string]map[string]string `json:"devices"`
	UsedBy      []string                     `json:"used_by"`
}

// ProfilePut is the editable part of a profile (PUT body).
type ProfilePut struct {
	Description string                       `json:"description"`
	Config      map[string]string            `json:"config"`
	Devices     map[string]map[string]string `json:"devices"`
}

func profilePath(name string) string { return "/1.0/profiles/" + pathEscape(name) }

// GetProfile returns a profile and its ETag, which UpdateProfile takes to
// refuse a change made meanwhile.
func (c *Client) GetProfile(ctx context.Context, name string) (*Profile, string, error) {
	var p Profile
	hdr, err := c.query(ctx, request{method: http.MethodGet, path: profilePath(name)}, &p)
	if err != nil {
		return nil, "", fmt.Errorf("get profile %q: %w", name, err)
	}
	return &p, hdr.Get("ETag"), nil
}

// CreateProfile creates a profile. errors.Is(err, ErrAlreadyExists) when one
// of that name exists. Of two concurrent creations of one name, exactly one
// succeeds (LXD's database refuses the second), which makes a profile a
// lock; LXD's ETags are not (it checks If-Match and writes in two separate
// transactions, so two concurrent PUTs with the same ETag both succeed).
func (c *Client) CreateProfile(ctx context.Context, name string, put ProfilePut) error {
	body := struct {
		Name string `json:"name"`
		ProfilePut
	}{name, put}
	if _, err := c.query(ctx, request{method: http.MethodPost, path: "/1.0/profiles", body: body}, nil); err != nil {
		return fmt.Errorf("create profile %q: %w", name, err)
	}
	return nil
}

// UpdateProfile replaces a profile's configuration (PUT). With a non-empty
// etag (from GetProfile) LXD refuses the change, with status 412, if the
// profile changed before the request; changes racing with it may still
// pass (see CreateProfile).
func (c *Client) UpdateProfile(ctx context.Context, name string, put ProfilePut, etag string) error {
	r := request{method: http.MethodPut, path: profilePath(name), body: put}
	if etag != "" {
		r.header = http.Header{"If-Match": {etag}}
	}
	if _, err := c.query(ctx, r, nil); err != nil {
		return fmt.Errorf("update profile %q: %w", name, err)
	}
	return nil
}

// DeleteProfile deletes a profile no instance uses.
func (c *Client) DeleteProfile(ctx context.Context, name string) error {
	if _, err := c.query(ctx, request{method: http.MethodDelete, path: profilePath(name)}, nil); err != nil {
		return fmt.Errorf("delete profile %q: %w", name, err)
	}
	return nil
}
