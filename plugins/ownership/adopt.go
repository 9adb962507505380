package ownership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
)

// AdoptOptions tunes Adopt.
type AdoptOptions struct {
	// Remote and Instance override what the service's settings name.
	Remote, Instance string
	// Force takes over an instance marked for another service.
	Force bool
	// Now stamps the adoption; zero means time.Now.
	Now time.Time
}

// Adoption says what Adopt did.
type Adoption struct {
	Remote, Instance string
	Before, After    Owner
}

// Changed reports whether Adopt wrote new marks.
func (a Adoption) Changed() bool { return a.Before != a.After }

// Adopt is what `vcrctl standby adopt SERVICE` runs: it marks the existing
// instance that holds service's standby as service's, so the strategies may
// reuse and, when a newer copy replaces it, remove it. settings and shared
// are the service's strategy settings and the receiver-wide shared settings,
// as the receiver passes them to Prepare. The incident mark records the
// adoption ("adopted-<UTC time>"), which no recovery's Abort ever matches.
//
// An instance already marked as service's is left as it is; one marked for
// another service is refused unless opts.Force.
func Adopt(ctx context.Context, service string, settings, shared json.RawMessage, opts AdoptOptions) (Adoption, error) {
	remote, instance, err := Standby(service, settings)
	if opts.Remote != "" {
		remote, err = opts.Remote, nil
	}
	if err != nil {
		return Adoption{}, err
	}
	if opts.Instance != "" {
		instance = opts.Instance
	}
	sh, err := strategy.ParseShared(shared)
	if err != nil {
		return Adoption{}, err
	}
	c, _, err := strategy.ConnectRemote(ctx, sh, remote)
	if err != nil {
		return Adoption{}, fmt.Errorf("adopt %s: %w", service, err)
	}
	inst, _, err := c.GetInstance(ctx, instance)
	if errors.Is(err, lxd.ErrNotFound) {
		return Adoption{}, fmt.Errorf("adopt %s: remote %q has no instance %q: create the standby container there first, or name it with --instance", service, remote, instance)
	}
	if err != nil {
		return Adoption{}, fmt.Errorf("adopt %s: %w", service, err)
	}
	a := Adoption{Remote: remote, Instance: instance, Before: Of(inst)}
	a.After = a.Before
	switch {
	case a.Before.Is(service):
		return a, nil
	case a.Before.Service != "" && !opts.Force:
		return a, fmt.Errorf("adopt %s: instance %q on remote %q belongs to service %q (%s); pass --force to hand it to %s, or give %s another instance name",
			service, instance, remote, a.Before.Service, a.Before, service, service)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	marks := Marks(service, "adopted-"+now.UTC().Format("20060102T150405Z"), nil)
	if err := Mark(ctx, c, instance, marks); err != nil {
		return a, fmt.Errorf("adopt %s: %w", service, err)
	}
	a.After = Owner{Service: marks[KeyService], Incident: marks[KeyIncident]}
	return a, nil
}

// Standby names the remote and instance that hold service's standby, read
// from its strategy settings the way the built-in strategies name them: the
// remote is `remote` (warm, cold) or `source` (scale-up, alias `from`), the
// instance `instance` (alias `container`) or else the service's own name.
func Standby(service string, settings json.RawMessage) (remote, instance string, err error) {
	var s struct {
		Remote    string `json:"remote"`
		Source    string `json:"source"`
		From      string `json:"from"`
		Instance  string `json:"instance"`
		Container string `json:"container"`
	}
	if len(settings) > 0 {
		if err := json.Unmarshal(settings, &s); err != nil {
			return "", "", fmt.Errorf("service %s: strategy settings: %w", service, err)
		}
	}
	remote = firstSet(s.Remote, s.Source, s.From)
	if remote == "" {
		return "", "", fmt.Errorf("service %s: its strategy settings name no standby remote (remote, or source for scale-up): give one with --remote", service)
	}
	return remote, firstSet(s.Instance, s.Container, service), nil
}

func firstSet(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
