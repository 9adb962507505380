package warm

import (
	"context"
	"fmt"

	"github.com/vcrcovery/vcrcovery/datasync/syncapi"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// promote has vcr-sync make the standby's copy of the data the service's
// primary copy (replication stopped, all received applied, read_only off)
// and adds what it reports (GTID, lag, files' age, beyond the rpo) to
// details, which the incident keeps. A lag beyond the rpo blocks nothing: a
// standby with older data is better than none, and the incident says how
// old. A promotion that fails fails the prepare (the receiver retries it):
// a standby that would serve read-only data, or data still following a dead
// primary, must not take the service's name silently. vcr-sync answers a
// second promote of a promoted service with the same result, so a retried
// Prepare is harmless.
func promote(ctx context.Context, s Settings, service string, details map[string]string, progress sdk.ProgressFunc) error {
	name := s.SyncServiceFor(service)
	res, err := syncapi.Client{URL: s.Sync}.Promote(ctx, name)
	if err != nil {
		return fmt.Errorf("promote the standby's data: %w", err)
	}
	for k, v := range res.Details() {
		details[k] = v
	}
	msg := "vcr-sync promoted " + name + "'s standby data"
	if res.GTID != "" {
		msg += " at GTID " + res.GTID
	}
	if v, ok := details["sync_lag_seconds"]; ok {
		msg += ", replica lag " + v + " s"
	}
	if res.BeyondRPO {
		msg += fmt.Sprintf(" (beyond the rpo of %g s: data written in that time is lost)", res.RPOSeconds)
	}
	strategy.Report(progress, "%s", msg)
	return nil
}
