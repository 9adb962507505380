package ownership

import (
	"errors"
	"fmt"

	"github.com/vcrcovery/vcrcovery/lxd"
)

// ErrNotOwned marks a strategy refusing to touch an instance that is not
// its service's. errors.Is finds it in a *ConflictError.
var ErrNotOwned = errors.New("instance not owned by the service")

// ConflictError says that an instance a strategy would delete, replace or
// reuse belongs to someone else, and how to resolve it.
type ConflictError struct {
	Remote   string // the lxd_remotes name of the daemon
	Instance string
	Service  string // the service being recovered
	Owner    Owner  // what the instance's marks say
	// Would says what the strategy was about to do, e.g. "replace it with
	// the newest backup".
	Would string
}

func (e *ConflictError) Error() string {
	if e.Owner.Service == "" {
		return fmt.Sprintf("remote %q has an instance %q that VCRcovery does not own (no %s in its config); the strategy would %s, and it never deletes or replaces what it does not own: if it is %s's, mark it with `%s`, otherwise rename or remove it",
			e.Remote, e.Instance, KeyService, e.Would, e.Service, e.adoptCommand())
	}
	return fmt.Sprintf("remote %q has an instance %q that belongs to service %q (%s=%s), not %q; the strategy would %s, and it never touches another service's instance: give %s its own instance name in its strategy settings, or remove the other one",
		e.Remote, e.Instance, e.Owner.Service, KeyService, e.Owner.Service, e.Service, e.Would, e.Service)
}

// Is makes errors.Is(err, ErrNotOwned) true.
func (e *ConflictError) Is(target error) bool { return target == ErrNotOwned }

// Check returns a *ConflictError unless inst belongs to service.
func Check(inst *lxd.Instance, remote, service, would string) error {
	if o := Of(inst); !o.Is(service) {
		return &ConflictError{Remote: remote, Instance: inst.Name, Service: service, Owner: o, Would: would}
	}
	return nil
}

// CheckNotOthers is Check for an instance that may be unmarked, such as a
// warm standby made by hand: only another service's mark is a conflict.
func CheckNotOthers(inst *lxd.Instance, remote, service, would string) error {
	if o := Of(inst); o.Service != "" && o.Service != service {
		return &ConflictError{Remote: remote, Instance: inst.Name, Service: service, Owner: o, Would: would}
	}
	return nil
}

// adoptCommand is the vcrctl command that marks the instance as the
// service's.
func (e *ConflictError) adoptCommand() string {
	cmd := fmt.Sprintf("vcrctl standby adopt %s --remote %s", e.Service, e.Remote)
	if e.Instance != e.Service {
		cmd += " --instance " + e.Instance
	}
	return cmd
}
