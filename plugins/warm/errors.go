package warm

import (
	"errors"
	"fmt"

	"github.com/vcrcovery/vcrcovery/lxd"
)

func notFoundHint(err error, name, remote string) error {
	if errors.Is(err, lxd.ErrNotFound) {
		return fmt.Errorf("%w: instance %q is missing on remote %q; create the standby container there, or switch the service to the cold strategy", err, name, remote)
	}
	return err
}
