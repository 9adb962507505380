package pipeline

import (
	"context"

	"github.com/vcrcovery/vcrcovery/datasync/syncapi"
)

// A failback of a service whose data vcr-sync keeps (the service's `sync`)
// must not lose what the standby took while it served: before the switch,
// prepare has the daemon reverse the direction (the primary catches up from
// the standby and follows it); after the switch, the switch stage has it
// resume (a last copy back, the primary promoted, the standby following the
// primary again). Both run again harmlessly: the daemon answers 409 when
// the service is already past the step, which counts as done.

// reverseData is the failback's step before the switch.
func reverseData(ctx context.Context, a Attempt) error {
	sy := a.Service.Sync
	if sy == nil {
		return nil
	}
	name := sy.ServiceName(a.Service.Name)
	res, err := syncapi.Client{URL: sy.URL}.Reverse(ctx, name)
	if syncapi.IsWrongMode(err) {
		a.Note("vcr-sync did not reverse " + name + ": " + err.Error())
		return nil
	}
	if err != nil {
		return err
	}
	msg := "vcr-sync reversed " + name + ": the primary follows the standby"
	if res.PrimaryGTID != "" {
		msg += " from GTID " + res.PrimaryGTID
	}
	a.Note(msg)
	return nil
}

// resumeData is the failback's step after the switch.
func resumeData(ctx context.Context, a Attempt) error {
	sy := a.Service.Sync
	if sy == nil {
		return nil
	}
	name := sy.ServiceName(a.Service.Name)
	res, err := syncapi.Client{URL: sy.URL}.Resume(ctx, name)
	if syncapi.IsWrongMode(err) {
		a.Note("vcr-sync did not resume " + name + ": " + err.Error())
		return nil
	}
	if err != nil {
		return err
	}
	a.Note("vcr-sync resumed " + name + ": the primary serves at GTID " + res.GTID + " and the standby follows it")
	return nil
}
