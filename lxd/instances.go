package lxd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Instance is an LXD instance (container or VM) as GET /1.0/instances/{name}
// returns it.
type Instance struct {
	Name            string                       `json:"name"`
	Type            string                       `json:"type"` // container or virtual-machine
	Architecture    string                       `json:"architecture"`
	Description     string                       `json:"description"`
	Config          map[string]string            `json:"config"`
	Devices         map[string]map[string]string `json:"devices"`
	ExpandedConfig  map[string]string            `json:"expanded_config"`
	ExpandedDevices map[string]map[string]string `json:"expanded_devices"`
	Profiles        []string                     `json:"profiles"`
	Ephemeral       bool                         `json:"ephemeral"`
	Stateful        bool                         `json:"stateful"`
	Status          string                       `json:"status"`
	StatusCode      int                          `json:"status_code"`
	CreatedAt       time.Time                    `json:"created_at"`
	LastUsedAt      time.Time                    `json:"last_used_at"`
	Location        string                       `json:"location"`
	Project         string                       `json:"project"`
}

// Writable returns the instance's editable part, for a read-modify-write
// UpdateInstance.
func (i *Instance) Writable() InstancePut {
	return InstancePut{
		Architecture: i.Architecture, Config: i.Config, Devices: i.Devices,
		Profiles: i.Profiles, Ephemeral: i.Ephemeral, Description: i.Description,
	}
}

// InstancePut is the editable part of an instance (PUT and PATCH bodies).
// With PATCH, only the keys present are changed; with PUT, the whole
// configuration is replaced.
type InstancePut struct {
	Architecture string                       `json:"architecture,omitempty"`
	Config       map[string]string            `json:"config,omitempty"`
	Devices      map[string]map[string]string `json:"devices,omitempty"`
	// Profiles: nil leaves the field out of the body; an empty, non-nil
	// slice is sent as [] and means "no profile at all". omitzero, not
	// omitempty, because omitempty drops [] too, and LXD reads a missing
	// list differently from an empty one.
	Profiles    []string `json:"profiles,omitzero"`
	Ephemeral   bool     `json:"ephemeral,omitempty"`
	Description string   `json:"description,omitempty"`
}

// InstanceState is the runtime state (GET /1.0/instances/{name}/state).
type InstanceState struct {
	Status     string `json:"status"`
	StatusCode int    `json:"status_code"`
	PID        int64  `json:"pid"`
	Processes  int64  `json:"processes"`
	CPU        struct {
		// Usage is the CPU time consumed so far, in nanoseconds.
		Usage int64 `json:"usage"`
	} `json:"cpu"`
	Memory struct {
		Usage         int64 `json:"usage"`
		UsagePeak     int64 `json:"usage_peak"`
		SwapUsage     int64 `json:"swap_usage"`
		SwapUsagePeak int64 `json:"swap_usage_peak"`
	} `json:"memory"`
}

// Running reports whether the instance is running.
func (s *InstanceState) Running() bool { return s.StatusCode == StatusRunning }

// CreateInstanceRequest creates an instance from a local image alias.
type CreateInstanceRequest struct {
	Name string
	// Image is the alias of a local image, e.g. "busybox".
	Image   string
	Type    string // "container" (default) or "virtual-machine"
	Config  map[string]string
	Devices map[string]map[string]string
	// Profiles: nil means LXD's default profile; an empty, non-nil slice
	// means no profile at all (then Devices must hold the root disk).
	Profiles []string
	// Start starts the instance once created (like `lxc launch`).
	Start bool
}

// instancesPost is the body of POST /1.0/instances.
type instancesPost struct {
	Name         string                       `json:"name"`
	Type         string                       `json:"type,omitempty"`
	Architecture string                       `json:"architecture,omitempty"`
	Config       map[string]string            `json:"config,omitempty"`
	Devices      map[string]map[string]string `json:"devices,omitempty"`
	// Profiles: nil is left out, so LXD applies its default profile; []
	// is sent as such and means none (see InstancePut.Profiles).
	Profiles  []string       `json:"profiles,omitzero"`
	Ephemeral bool           `json:"ephemeral,omitempty"`
	Source    instanceSource `json:"source"`
}

type instanceSource struct {
	Type              string            `json:"type"` // image, migration, copy, none
	Alias             string            `json:"alias,omitempty"`
	Mode              string            `json:"mode,omitempty"` // pull, push
	Operation         string            `json:"operation,omitempty"`
	Certificate       string            `json:"certificate,omitempty"`
	Secrets           map[string]string `json:"secrets,omitempty"`
	Live              bool              `json:"live,omitempty"`
	InstanceOnly      bool              `json:"instance_only,omitempty"`
	Refresh           bool              `json:"refresh,omitempty"`
	AllowInconsistent bool              `json:"allow_inconsistent,omitempty"`
}

// statePut is the body of PUT /1.0/instances/{name}/state.
type statePut struct {
	Action   string `json:"action"` // start, stop, restart, freeze, unfreeze
	Timeout  int    `json:"timeout"`
	Force    bool   `json:"force"`
	Stateful bool   `json:"stateful"`
}

func instancePath(name string) string { return "/1.0/instances/" + pathEscape(name) }

// ListInstances returns every instance of the project, with full details.
func (c *Client) ListInstances(ctx context.Context) ([]Instance, error) {
	var out []Instance
	if _, err := c.query(ctx, request{method: http.MethodGet, path: "/1.0/instances", query: url.Values{"recursion": {"1"}}}, &out); err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	return out, nil
}

// GetInstance returns an instance and its ETag, which UpdateInstance takes
// to refuse overwriting a concurrent change.
func (c *Client) GetInstance(ctx context.Context, name string) (*Instance, string, error) {
	var inst Instance
	hdr, err := c.query(ctx, request{method: http.MethodGet, path: instancePath(name)}, &inst)
	if err != nil {
		return nil, "", fmt.Errorf("get instance %q: %w", name, err)
	}
	return &inst, hdr.Get("ETag"), nil
}

// GetInstanceState returns the runtime state: status, CPU time, memory.
func (c *Client) GetInstanceState(ctx context.Context, name string) (*InstanceState, error) {
	var st InstanceState
	if _, err := c.query(ctx, request{method: http.MethodGet, path: instancePath(name) + "/state"}, &st); err != nil {
		return nil, fmt.Errorf("get state of instance %q: %w", name, err)
	}
	return &st, nil
}

// CreateInstance creates an instance from a local image alias and waits
// until it exists (and runs, with req.Start).
func (c *Client) CreateInstance(ctx context.Context, req CreateInstanceRequest) error {
	if req.Name == "" || req.Image == "" {
		return errors.New("create instance: Name and Image are required")
	}
	typ := req.Type
	if typ == "" {
		typ = "container"
	}
	body := instancesPost{
		Name: req.Name, Type: typ, Config: req.Config, Devices: req.Devices, Profiles: req.Profiles,
		Source: instanceSource{Type: "image", Alias: req.Image},
	}
	if _, err := c.run(ctx, request{method: http.MethodPost, path: "/1.0/instances", body: body}); err != nil {
		return fmt.Errorf("create instance %q from image %q: %w", req.Name, req.Image, err)
	}
	if req.Start {
		return c.StartInstance(ctx, req.Name)
	}
	return nil
}

// busyRetry bounds how long a state change waits for another one to finish.
const busyRetry = 15 * time.Second

// changeState runs a state change. LXD refuses one while another is still
// running on the instance ("Instance is busy running a "start" operation"),
// which happens right after StartInstanceReady returns, so it retries for a
// while instead of failing.
func (c *Client) changeState(ctx context.Context, name string, st statePut) error {
	deadline := time.Now().Add(busyRetry)
	for {
		_, err := c.run(ctx, request{method: http.MethodPut, path: instancePath(name) + "/state", body: st})
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func isBusy(err error) bool {
	var le *Error
	return errors.As(err, &le) && strings.Contains(le.Message, "is busy running")
}

// StartInstance starts an instance and waits until LXD reports it started.
// Starting a running instance is an error from LXD.
func (c *Client) StartInstance(ctx context.Context, name string) error {
	if err := c.changeState(ctx, name, statePut{Action: "start"}); err != nil {
		return fmt.Errorf("start instance %q: %w", name, err)
	}
	return nil
}

// StopInstance stops an instance: it asks the instance to shut down and
// waits up to graceful for it, then kills it. graceful <= 0 kills at once
// (the right call for images whose init ignores the shutdown signal, such as
// busybox). Stopping a stopped instance succeeds.
func (c *Client) StopInstance(ctx context.Context, name string, graceful time.Duration) error {
	if graceful > 0 {
		secs := int(graceful.Round(time.Second) / time.Second)
		if secs < 1 {
			secs = 1
		}
		err := c.changeState(ctx, name, statePut{Action: "stop", Timeout: secs})
		if err == nil || ctx.Err() != nil {
			return wrapStop(name, err)
		}
		if stopped, _ := c.isStopped(ctx, name); stopped {
			return nil
		}
	}
	err := c.changeState(ctx, name, statePut{Action: "stop", Force: true, Timeout: -1})
	if err != nil {
		if stopped, _ := c.isStopped(ctx, name); stopped {
			return nil
		}
	}
	return wrapStop(name, err)
}

func wrapStop(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("stop instance %q: %w", name, err)
}

func (c *Client) isStopped(ctx context.Context, name string) (bool, error) {
	st, err := c.GetInstanceState(ctx, name)
	if err != nil {
		return false, err
	}
	return st.StatusCode == StatusStopped, nil
}

// RestartInstance restarts an instance, shutting it down gracefully within
// graceful, else (or with graceful <= 0) forcibly.
func (c *Client) RestartInstance(ctx context.Context, name string, graceful time.Duration) error {
	if graceful > 0 {
		secs := max(int(graceful.Round(time.Second)/time.Second), 1)
		err := c.changeState(ctx, name, statePut{Action: "restart", Timeout: secs})
		if err == nil || ctx.Err() != nil {
			if err != nil {
				return fmt.Errorf("restart instance %q: %w", name, err)
			}
			return nil
		}
	}
	if err := c.changeState(ctx, name, statePut{Action: "restart", Force: true, Timeout: -1}); err != nil {
		return fmt.Errorf("restart instance %q: %w", name, err)
	}
	return nil
}

// FreezeInstance pauses every process of a running instance (cgroup
// freezer). It takes milliseconds, against hundreds for a stop, so a move can
// freeze the source, refresh its now-consistent filesystem onto the target
// and keep the source ready to resume with UnfreezeInstance if the move fails.
func (c *Client) FreezeInstance(ctx context.Context, name string) error {
	if err := c.changeState(ctx, name, statePut{Action: "freeze", Timeout: -1}); err != nil {
		return fmt.Errorf("freeze instance %q: %w", name, err)
	}
	return nil
}

// UnfreezeInstance resumes a frozen instance.
func (c *Client) UnfreezeInstance(ctx context.Context, name string) error {
	if err := c.changeState(ctx, name, statePut{Action: "unfreeze", Timeout: -1}); err != nil {
		return fmt.Errorf("unfreeze instance %q: %w", name, err)
	}
	return nil
}

// DeleteInstance deletes a stopped instance, with its snapshots and backups.
// LXD refuses to delete a running one: StopInstance it first.
func (c *Client) DeleteInstance(ctx context.Context, name string) error {
	if _, err := c.run(ctx, request{method: http.MethodDelete, path: instancePath(name)}); err != nil {
		return fmt.Errorf("delete instance %q: %w", name, err)
	}
	return nil
}

// UpdateInstance replaces an instance's configuration (PUT). With a non-empty
// etag (from GetInstance) LXD refuses the change, with status 412, if the
// instance changed meanwhile.
func (c *Client) UpdateInstance(ctx context.Context, name string, put InstancePut, etag string) error {
	r := request{method: http.MethodPut, path: instancePath(name), body: put}
	if etag != "" {
		r.header = http.Header{"If-Match": {etag}}
	}
	if _, err := c.run(ctx, r); err != nil {
		return fmt.Errorf("update instance %q: %w", name, err)
	}
	return nil
}

// PatchInstance changes only the config keys and devices present in patch
// (PATCH): a device given replaces the device of that name as a whole.
func (c *Client) PatchInstance(ctx context.Context, name string, patch InstancePut, etag string) error {
	r := request{method: http.MethodPatch, path: instancePath(name), body: patch}
	if etag != "" {
		r.header = http.Header{"If-Match": {etag}}
	}
	if _, err := c.query(ctx, r, nil); err != nil {
		return fmt.Errorf("patch instance %q: %w", name, err)
	}
	return nil
}

// SetDevice adds or replaces one device of an instance, or removes it when
// dev is nil. It reads, edits and writes back under the ETag, retrying a few
// times if someone else changed the instance in between.
func (c *Client) SetDevice(ctx context.Context, name, device string, dev map[string]string) error {
	var err error
	for range 3 {
		var inst *Instance
		var etag string
		inst, etag, err = c.GetInstance(ctx, name)
		if err != nil {
			return fmt.Errorf("set device %q: %w", device, err)
		}
		put := inst.Writable()
		if put.Devices == nil {
			put.Devices = map[string]map[string]string{}
		}
		if dev == nil {
			if _, ok := put.Devices[device]; !ok {
				return nil
			}
			delete(put.Devices, device)
		} else {
			put.Devices[device] = dev
		}
		err = c.UpdateInstance(ctx, name, put, etag)
		var le *Error
		if err == nil || !errors.As(err, &le) || le.StatusCode != http.StatusPreconditionFailed {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("set device %q: %w", device, err)
	}
	return nil
}
