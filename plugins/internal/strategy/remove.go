package strategy

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
)

// busyWait bounds how long RetryBusy waits out another operation on the
// instance; LXD's start keeps an instance busy about a second after
// StartListening returned.
const busyWait = 10 * time.Second

// RemoveInstance force-stops and deletes name. A missing instance is not an
// error. It retries while LXD reports the instance busy with another
// operation (typically the tail of a start).
func RemoveInstance(ctx context.Context, c *lxd.Client, name string) error {
	return RetryBusy(ctx, func() error {
		if err := c.StopInstance(ctx, name, 0); err != nil && !errors.Is(err, lxd.ErrNotFound) {
			return err
		}
		if err := c.DeleteInstance(ctx, name); err != nil && !errors.Is(err, lxd.ErrNotFound) {
			return err
		}
		return nil
	})
}

// RetryBusy runs f again while LXD answers that the instance is busy with
// another operation, for up to busyWait.
func RetryBusy(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(busyWait)
	for {
		err := f()
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func isBusy(err error) bool {
	var le *lxd.Error
	return errors.As(err, &le) && strings.Contains(le.Message, "is busy running")
}
