package lxd_test

// ErrNotFound and ErrAlreadyExists decide what callers skip: a remove treats
// "not found" as done. Only a genuine missing (or taken) object may match.

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
)

func TestErrorSentinelsMatchOnlyGenuineCases(t *testing.T) {
	const op = "op1"
	for _, tc := range []struct {
		name          string
		err           *lxd.Error
		notFound, dup bool
	}{
		{"404", &lxd.Error{StatusCode: 404, Message: "Instance not found"}, true, false},
		{"404 whatever the text", &lxd.Error{StatusCode: 404, Message: "Load backup from database: Instance backup not found"}, true, false},
		{"operation: LXD's own not-found", &lxd.Error{StatusCode: 400, Operation: op, Message: "Failed getting image: Image not found"}, true, false},
		{"operation: bare not-found", &lxd.Error{StatusCode: 400, Operation: op, Message: "Instance not found"}, true, false},
		{"operation: a storage tool's not-found", &lxd.Error{StatusCode: 400, Operation: op, Message: "zfs destroy: dataset not found"}, false, false},
		{"operation: not-found in the middle", &lxd.Error{StatusCode: 400, Operation: op, Message: "Failed deleting instance: Instance not found in pool: retry later"}, false, false},
		{"operation: not-found of something else", &lxd.Error{StatusCode: 400, Operation: op, Message: "Failed to run: lvremove: Logical volume not found"}, false, false},
		{"500 with a not-found text", &lxd.Error{StatusCode: 500, Message: "Instance not found"}, false, false},
		{"409", &lxd.Error{StatusCode: 409, Message: `Instance "x" already exists`}, false, true},
		{"operation: database conflict", &lxd.Error{StatusCode: 400, Operation: op, Message: `Failed creating instance record: Add instance info to the database: This "instances" entry already exists`}, false, true},
		{"500: database conflict (copy onto an existing instance)", &lxd.Error{StatusCode: 500, Message: `Failed creating instance record: Add instance info to the database: This "instances" entry already exists`}, false, true},
		{"operation: import over an existing instance", &lxd.Error{StatusCode: 400, Operation: op, Message: "Create instance from backup: Cannot restore volume, already exists on target"}, false, true},
		{"500: profile name taken", &lxd.Error{StatusCode: 500, Message: `Error inserting "vcrcovery" into database: The profile already exists`}, false, true},
		{"operation: a storage tool's already-exists", &lxd.Error{StatusCode: 400, Operation: op, Message: "Failed to run: zfs create: dataset already exists"}, false, false},
		{"500: a file that already exists", &lxd.Error{StatusCode: 500, Message: "Failed creating directory: mkdir /var/lib/lxd/containers/web: file already exists"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := errors.Is(tc.err, lxd.ErrNotFound); got != tc.notFound {
				t.Errorf("errors.Is(%v, ErrNotFound) = %v, want %v", tc.err, got, tc.notFound)
			}
			if got := errors.Is(tc.err, lxd.ErrAlreadyExists); got != tc.dup {
				t.Errorf("errors.Is(%v, ErrAlreadyExists) = %v, want %v", tc.err, got, tc.dup)
			}
		})
	}
}

// TestDeleteStorageFailureIsNotNotFound is the remove path end to end: a
// delete whose operation fails in the storage driver is an error, not a
// missing instance.
func TestDeleteStorageFailureIsNotNotFound(t *testing.T) {
	f := newFake(t)
	f.asyncOp("DELETE /1.0/instances/web", "del1", 400, "zfs destroy: dataset not found", nil)
	f.route("DELETE /1.0/instances/gone", func(w http.ResponseWriter, r *http.Request) { errResp(w, 404, "Instance not found") })
	c := f.startUnix()
	if err := c.DeleteInstance(context.Background(), "web"); err == nil || errors.Is(err, lxd.ErrNotFound) {
		t.Errorf("delete failing in storage: %v, want an error that is not ErrNotFound", err)
	}
	if err := c.DeleteInstance(context.Background(), "gone"); !errors.Is(err, lxd.ErrNotFound) {
		t.Errorf("delete of a missing instance: %v, want ErrNotFound", err)
	}
}

// TestIntegrationMissingInstanceIsNotFound: LXD answers calls about a missing
// instance with a 404, which must keep matching ErrNotFound.
func TestIntegrationMissingInstanceIsNotFound(t *testing.T) {
	a, _ := testPair(t)
	c := httpsClient(t, a)
	ctx := ctxT(t, time.Minute)
	for what, call := range map[string]func() error{
		"delete": func() error { return c.DeleteInstance(ctx, "never-existed") },
		"stop":   func() error { return c.StopInstance(ctx, "never-existed", 0) },
	} {
		err := call()
		var le *lxd.Error
		if !errors.Is(err, lxd.ErrNotFound) || !errors.As(err, &le) || le.StatusCode != http.StatusNotFound {
			t.Errorf("%s a missing instance: %v, want ErrNotFound with status 404", what, err)
		}
	}
}
