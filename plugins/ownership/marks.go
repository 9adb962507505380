package ownership

import (
	"context"
	"fmt"
	"maps"

	"github.com/vcrcovery/vcrcovery/lxd"
)

// The config keys of a mark. LXD keeps user.* keys as they are and copies
// them with the instance (lxc copy, migration, backups).
const (
	KeyService  = "user.vcrcovery.service"
	KeyIncident = "user.vcrcovery.incident"
)

// Owner is what an instance's marks say. A zero Owner means unmarked: made
// by hand or by something else, and never VCRcovery's to remove.
type Owner struct {
	Service  string
	Incident string
}

// Of reads the marks of inst from its own config (not a profile's).
func Of(inst *lxd.Instance) Owner {
	return Owner{Service: inst.Config[KeyService], Incident: inst.Config[KeyIncident]}
}

// Is reports whether the instance belongs to service.
func (o Owner) Is(service string) bool { return o.Service != "" && o.Service == service }

// IsIncident reports whether the instance was created or adopted for
// service in incident: only such an instance may be undone by an Abort.
func (o Owner) IsIncident(service, incident string) bool {
	return o.Is(service) && o.Incident == incident
}

func (o Owner) String() string {
	if o.Service == "" {
		return "unmarked"
	}
	return fmt.Sprintf("%s=%s, %s=%s", KeyService, o.Service, KeyIncident, o.Incident)
}

// Marks returns the config keys that make an instance service's, created or
// adopted in incident, plus any extra keys (which should be user.vcrcovery.*
// too).
func Marks(service, incident string, extra map[string]string) map[string]string {
	m := map[string]string{KeyService: service, KeyIncident: incident}
	maps.Copy(m, extra)
	return m
}

// Mark sets marks on the existing instance name, leaving the rest of its
// config, devices and profiles as they are.
func Mark(ctx context.Context, c *lxd.Client, name string, marks map[string]string) error {
	if err := c.PatchInstance(ctx, name, lxd.InstancePut{Config: marks}, ""); err != nil {
		return fmt.Errorf("mark instance %q as %s's: %w", name, marks[KeyService], err)
	}
	return nil
}
