package lxd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// CopyOptions tunes CopyInstance. The zero value is a stateless copy of the
// instance alone (no snapshots) under the same name, with the source's
// configuration, devices and profiles.
type CopyOptions struct {
	// TargetName names the copy; empty keeps the source's name.
	TargetName string
	// Live asks for a stateful migration (CRIU checkpoint and restore) of a
	// running instance. If it fails, the error matches ErrLiveMigration.
	Live bool
	// Refresh updates an existing target instance with only what changed
	// (an incremental copy); the target must be stopped.
	Refresh bool
	// IncludeSnapshots copies the snapshots too.
	IncludeSnapshots bool
	// Config keys set on the copy, over the source's.
	Config map[string]string
	// Devices replaced (or added) on the copy by name, e.g. a proxy device
	// whose listen address must change on the target host.
	Devices map[string]map[string]string
	// Profiles of the copy; nil keeps the source's (none, if the source
	// has none), and an empty, non-nil slice gives the copy no profile.
	Profiles []string
	// KeepVolatile keeps the source's volatile.* keys (MAC addresses, idmap
	// state). A live migration always keeps them.
	KeepVolatile bool
	// AllowInconsistent copies a running instance without freezing it. LXD
	// otherwise freezes a running container for the whole transfer of a
	// stateless copy; a pre-copy that a frozen Refresh follows wants the
	// service to keep answering, and ends up consistent all the same.
	AllowInconsistent bool
}

// instancePost is the body of POST /1.0/instances/{name}.
type instancePost struct {
	Name          string `json:"name,omitempty"`
	Migration     bool   `json:"migration"`
	Live          bool   `json:"live"`
	InstanceOnly  bool   `json:"instance_only"`
	ContainerOnly bool   `json:"container_only"`
	// AllowInconsistent is left out when false so that daemons predating
	// the field see the body they always did.
	AllowInconsistent bool `json:"allow_inconsistent,omitempty"`
}

// MigrateSource prepares an instance to be pulled by another daemon: LXD
// answers with a websocket operation whose Secrets the target presents. The
// operation waits for the target and ends with the transfer; Cancel it if
// the target never comes. CopyInstance does all of this for you.
func (c *Client) MigrateSource(ctx context.Context, name string, live, instanceOnly bool) (*Operation, error) {
	return c.migrateSource(ctx, name, instancePost{
		Migration: true, Live: live, InstanceOnly: instanceOnly, ContainerOnly: instanceOnly,
	})
}

func (c *Client) migrateSource(ctx context.Context, name string, body instancePost) (*Operation, error) {
	op, err := c.async(ctx, request{method: http.MethodPost, path: instancePath(name), body: body})
	if err != nil {
		err = fmt.Errorf("prepare migration of instance %q on %s: %w", name, c.Target(), err)
		if body.Live {
			err = &liveMigrationError{err}
		}
		return nil, err
	}
	return op, nil
}

// CopyInstance copies (or, with Live, migrates) an instance from this daemon
// to target: the target pulls from this daemon using the migration
// operation's secrets, so this daemon must listen on HTTPS and trust
// target's certificate. It returns once the copy exists on target (stopped,
// unless a live migration brought it up running). The source is left as it
// was; delete it yourself to complete a move.
func (c *Client) CopyInstance(ctx context.Context, target *Client, name string, opts CopyOptions) error {
	err := c.copyInstance(ctx, target, name, opts)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("copy instance %q from %s to %s: %w", name, c.Target(), target.Target(), err)
	var lm *liveMigrationError
	if opts.Live && !errors.As(err, &lm) {
		err = &liveMigrationError{err}
	}
	return err
}

func (c *Client) copyInstance(ctx context.Context, target *Client, name string, opts CopyOptions) error {
	src, _, err := c.GetInstance(ctx, name)
	if err != nil {
		return err
	}
	sources, cert, err := c.migrationSources(ctx)
	if err != nil {
		return err
	}

	config := map[string]string{}
	for k, v := range src.Config {
		if strings.HasPrefix(k, "volatile.") && k != "volatile.base_image" && !opts.KeepVolatile && !opts.Live {
			continue
		}
		config[k] = v
	}
	maps.Copy(config, opts.Config)
	devices := map[string]map[string]string{}
	maps.Copy(devices, src.Devices)
	maps.Copy(devices, opts.Devices)
	profiles := opts.Profiles
	if profiles == nil {
		profiles = src.Profiles
	}
	targetName := opts.TargetName
	if targetName == "" {
		targetName = name
	}

	srcOp, err := c.migrateSource(ctx, name, instancePost{
		Migration: true, Live: opts.Live, InstanceOnly: !opts.IncludeSnapshots, ContainerOnly: !opts.IncludeSnapshots,
		AllowInconsistent: opts.AllowInconsistent,
	})
	if err != nil {
		return err
	}
	// Whatever happens below, never leave the source operation waiting for
	// a target that will not come.
	cleanup := func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if cur, err := c.GetOperation(cctx, srcOp.ID); err == nil && !cur.Done() {
			_ = c.CancelOperation(cctx, srcOp.ID)
		}
	}

	body := instancesPost{
		Name: targetName, Type: src.Type, Architecture: src.Architecture, Config: config,
		Devices: devices, Profiles: profiles, Ephemeral: src.Ephemeral,
		Source: instanceSource{
			Type: "migration", Mode: "pull",
			Certificate: cert, Secrets: srcOp.Secrets(),
			Live: opts.Live, InstanceOnly: !opts.IncludeSnapshots, Refresh: opts.Refresh,
			AllowInconsistent: opts.AllowInconsistent,
		},
	}
	// Try the source's addresses in turn, as LXD's own client does: the
	// target may not reach the first one (another network, a NAT). Only a
	// failure to connect moves on, and only while the source operation
	// still waits, so its secrets are still good for the next address.
	var unreached []string
	for i, srcURL := range sources {
		body.Source.Operation = srcURL + "/1.0/operations/" + srcOp.ID
		var started bool
		started, err = pull(ctx, target, body)
		if err == nil {
			break
		}
		last := i == len(sources)-1
		if !last && started && ctx.Err() == nil && unreachable(err) && c.stillWaiting(ctx, srcOp.ID) {
			unreached = append(unreached, fmt.Sprintf("%s (%s)", srcURL, errMessage(err)))
			continue
		}
		if len(unreached) > 0 || unreachable(err) {
			at := strings.Join(append(unreached, srcURL), ", nor at ")
			err = fmt.Errorf("the target could not pull from the source at %s: %w", at, err)
		}
		if !started {
			cleanup()
			return err
		}
		// The source side often knows better why (CRIU runs there).
		srcErr := c.sourceOutcome(ctx, srcOp, 2*time.Second)
		cleanup()
		if srcErr != nil && !strings.Contains(err.Error(), errMessage(srcErr)) {
			return fmt.Errorf("%w; source side: %s", err, errMessage(srcErr))
		}
		return err
	}
	if err := c.sourceOutcome(ctx, srcOp, 10*time.Second); err != nil && !errors.Is(err, ErrNotFound) {
		cleanup()
		return fmt.Errorf("target has the copy, but the source reported: %w", err)
	}
	return nil
}

// sourceOutcome waits briefly for the source operation's own result. A
// source operation that already vanished (LXD forgets finished operations
// after a few seconds) counts as success.
func (c *Client) sourceOutcome(ctx context.Context, op *Operation, d time.Duration) error {
	err := op.Wait(ctx, d)
	if errors.Is(err, ErrOperationTimeout) {
		return nil
	}
	return err
}

func errMessage(err error) string {
	var le *Error
	if errors.As(err, &le) {
		return le.Message
	}
	return err.Error()
}

// pull asks target to create the instance from the source operation named
// in body and waits for it. started says whether the target accepted the
// request (so a failure came from its operation, after it tried to dial).
func pull(ctx context.Context, target *Client, body instancesPost) (started bool, err error) {
	dstOp, err := target.async(ctx, request{method: http.MethodPost, path: "/1.0/instances", body: body})
	if err != nil {
		return false, err
	}
	if err := dstOp.Wait(ctx, 0); err != nil {
		if ctx.Err() != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = target.CancelOperation(cctx, dstOp.ID)
			cancel()
		}
		return true, err
	}
	return true, nil
}

// unreachable reports whether the target failed because it could not
// connect to the source at that address, the one failure another address
// can cure. LXD 5.0 words it "Error transferring instance data: Unable to
// connect to: 127.0.0.1:1 ([dial tcp 127.0.0.1:1: connect: connection
// refused])".
func unreachable(err error) bool {
	var le *Error
	return errors.As(err, &le) && le.Operation != "" && strings.Contains(le.Message, "Unable to connect to: ")
}

// stillWaiting reports whether the source operation is still running, that
// is, no target got through to it yet.
func (c *Client) stillWaiting(ctx context.Context, id string) bool {
	op, err := c.GetOperation(ctx, id)
	return err == nil && !op.Done()
}

// migrationSources lists the HTTPS base URLs the target may dial to pull
// from this daemon, in the order to try them, and this daemon's certificate
// for the target to pin. The client's own URL comes first (it is known to
// answer), then every address the daemon reports, without repeats.
func (c *Client) migrationSources(ctx context.Context) ([]string, string, error) {
	srv := c.server
	if srv == nil || srv.Environment.Certificate == "" {
		var err error
		if srv, err = c.GetServer(ctx); err != nil {
			return nil, "", err
		}
	}
	if srv.Environment.Certificate == "" {
		return nil, "", errors.New("source daemon does not reveal its certificate: connect to it as a trusted client")
	}
	var urls []string
	if c.cfg.URL != "" {
		urls = append(urls, c.base)
	}
	for _, addr := range srv.Environment.Addresses {
		if u := "https://" + addr; !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		return nil, "", errors.New("source daemon does not listen on the network, so no target can pull from it: set core.https_address on it")
	}
	return urls, srv.Environment.Certificate, nil
}
