package scaleup

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/vcrcovery/vcrcovery/lxd"
)

// precopy copies a running instance from src to dst without freezing it.
//
// Why not lxd.CopyInstance: LXD 5.0 freezes a running container for the
// whole transfer of a stateless copy unless the source operation says
// allow_inconsistent, which the lxd package does not send. For a pre-copy
// that is exactly wrong: the point is to move the bulk while the service
// keeps answering, and the refresh that follows runs with the source frozen
// anyway, so the target ends up consistent.
//
// srcURL is the source daemon's HTTPS address the target pulls from; empty
// means the first address the daemon announces.
func precopy(ctx context.Context, src, dst *lxd.Client, srcURL, name string, devices map[string]map[string]string) error {
	inst, _, err := src.GetInstance(ctx, name)
	if err != nil {
		return err
	}
	srv, err := src.GetServer(ctx)
	if err != nil {
		return err
	}
	if srcURL == "" {
		if len(srv.Environment.Addresses) == 0 {
			return fmt.Errorf("pre-copy of %q: source daemon %s does not listen on HTTPS, so the target cannot pull from it: set core.https_address on it", name, src.Target())
		}
		srcURL = "https://" + srv.Environment.Addresses[0]
	}
	env, _, err := src.Raw(ctx, http.MethodPost, "/1.0/instances/"+url.PathEscape(name), map[string]any{
		"migration": true, "live": false, "instance_only": true, "container_only": true, "allow_inconsistent": true,
	})
	if err != nil {
		return fmt.Errorf("prepare pre-copy of %q on %s: %w", name, src.Target(), err)
	}
	var op struct {
		ID       string         `json:"id"`
		Metadata map[string]any `json:"metadata"`
	}
	if err := json.Unmarshal(env.Metadata, &op); err != nil || op.ID == "" {
		op.ID = path.Base(env.Operation)
	}
	secrets := map[string]string{}
	for k, v := range op.Metadata {
		if s, ok := v.(string); ok {
			secrets[k] = s
		}
	}
	config := map[string]string{}
	for k, v := range inst.Config {
		if !strings.HasPrefix(k, "volatile.") || k == "volatile.base_image" {
			config[k] = v
		}
	}
	devs := maps.Clone(inst.Devices)
	if devs == nil {
		devs = map[string]map[string]string{}
	}
	maps.Copy(devs, devices)
	body := map[string]any{
		"name": name, "type": inst.Type, "architecture": inst.Architecture,
		"config": config, "devices": devs, "profiles": inst.Profiles,
		"source": map[string]any{
			"type": "migration", "mode": "pull",
			"operation":   strings.TrimSuffix(srcURL, "/") + "/1.0/operations/" + op.ID,
			"certificate": srv.Environment.Certificate, "secrets": secrets,
			"instance_only": true, "allow_inconsistent": true,
		},
	}
	denv, _, err := dst.Raw(ctx, http.MethodPost, "/1.0/instances", body)
	if err != nil {
		cancelOp(ctx, src, op.ID)
		return fmt.Errorf("pre-copy of %q to %s: %w", name, dst.Target(), err)
	}
	if _, err := dst.WaitOperation(ctx, path.Base(denv.Operation), 0); err != nil {
		cancelOp(ctx, src, op.ID)
		return fmt.Errorf("pre-copy of %q to %s: %w", name, dst.Target(), err)
	}
	return nil
}

func cancelOp(ctx context.Context, c *lxd.Client, id string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	if op, err := c.GetOperation(cctx, id); err == nil && !op.Done() {
		_ = c.CancelOperation(cctx, id)
	}
}
