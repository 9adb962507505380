package strategy

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
)

// LedgerProfile is the LXD profile whose config records, on each remote,
// what the strategies claimed there: an address per instance (address.go)
// and the room an instance about to start takes (capacity.go). No instance
// uses the profile.
//
// Claims made at the same moment by several recoveries, in one plugin
// process or several, on one receiver or several, must never collide, and
// LXD's ETags do not ensure that (they are checked apart from the write).
// What LXD does ensure is that of two creations of one profile name only one
// succeeds: so a writer first creates the profile LedgerLock, changes the
// ledger, and deletes the lock.
const LedgerProfile = "vcrcovery"

// LedgerLock is the profile whose existence means a writer is changing the
// ledger.
const LedgerLock = LedgerProfile + "-lock"

const (
	// lockStale is the age after which a lock counts as left behind by a
	// writer that died; a writer holds it for three requests.
	lockStale = 30 * time.Second
	// lockWait bounds the wait for the lock.
	lockWait = time.Minute
	// keyLockedAt records on the lock when it was taken (Unix nanoseconds).
	keyLockedAt = "user.vcrcovery.locked_at"
)

// ReadLedger returns the ledger's entries; none when the profile does not
// exist yet.
func ReadLedger(ctx context.Context, c *lxd.Client) (map[string]string, error) {
	p, _, err := c.GetProfile(ctx, LedgerProfile)
	if errors.Is(err, lxd.ErrNotFound) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	if p.Config == nil {
		p.Config = map[string]string{}
	}
	return p.Config, nil
}

// UpdateLedger runs change on the ledger's entries under the ledger's lock
// and writes them back. change returns false to write nothing. The profile
// is created on first use.
func UpdateLedger(ctx context.Context, c *lxd.Client, change func(entries map[string]string) (bool, error)) error {
	unlock, err := lockLedger(ctx, c)
	if err != nil {
		return err
	}
	defer unlock()
	p, etag, err := c.GetProfile(ctx, LedgerProfile)
	if errors.Is(err, lxd.ErrNotFound) {
		p, etag, err = &lxd.Profile{Description: "VCRcovery's record of the addresses and room its recoveries claimed on this daemon; used by no instance"}, "", nil
		if err := c.CreateProfile(ctx, LedgerProfile, lxd.ProfilePut{Description: p.Description, Config: map[string]string{}}); err != nil && !errors.Is(err, lxd.ErrAlreadyExists) {
			return fmt.Errorf("create the ledger profile %q on %s: %w", LedgerProfile, c.Target(), err)
		}
	}
	if err != nil {
		return fmt.Errorf("read the ledger profile %q on %s: %w", LedgerProfile, c.Target(), err)
	}
	if p.Config == nil {
		p.Config = map[string]string{}
	}
	write, err := change(p.Config)
	if err != nil || !write {
		return err
	}
	// The ETag still catches a writer that ignored the lock.
	if err := c.UpdateProfile(ctx, LedgerProfile, lxd.ProfilePut{Description: p.Description, Config: p.Config, Devices: p.Devices}, etag); err != nil {
		return fmt.Errorf("write the ledger profile %q on %s: %w", LedgerProfile, c.Target(), err)
	}
	return nil
}

// lockLedger takes the ledger's lock, waiting while another writer holds
// it, and breaking a lock older than lockStale. unlock releases it, even
// after ctx ended.
func lockLedger(ctx context.Context, c *lxd.Client) (unlock func(), err error) {
	deadline := time.Now().Add(lockWait)
	for {
		now := time.Now()
		err := c.CreateProfile(ctx, LedgerLock, lxd.ProfilePut{
			Description: "held while a VCRcovery recovery changes the " + LedgerProfile + " profile; safe to delete when older than " + lockStale.String(),
			Config:      map[string]string{keyLockedAt: strconv.FormatInt(now.UnixNano(), 10)},
		})
		if err == nil {
			return func() {
				dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
				defer cancel()
				_ = c.DeleteProfile(dctx, LedgerLock)
			}, nil
		}
		held, gerr := heldSince(ctx, c)
		switch {
		case errors.Is(gerr, lxd.ErrNotFound):
			continue // released meanwhile
		case gerr != nil:
			return nil, fmt.Errorf("lock the ledger on %s: %w (creating the lock: %v)", c.Target(), gerr, err)
		case now.Sub(held) > lockStale:
			// Its holder died. (Two writers that break the same stale
			// lock at once may both go on to hold it; that takes a crash
			// and then a race within a request's time.)
			_ = c.DeleteProfile(ctx, LedgerLock)
			continue
		case now.After(deadline):
			return nil, fmt.Errorf("lock the ledger on %s: another recovery has held the %q profile since %s: retry; if no recovery runs, delete it with `lxc profile delete %s`", c.Target(), LedgerLock, held.Format(time.RFC3339), LedgerLock)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(2+rand.IntN(10)) * time.Millisecond):
		}
	}
}

// heldSince reads when the lock was taken; a lock without a readable time
// counts as just taken.
func heldSince(ctx context.Context, c *lxd.Client) (time.Time, error) {
	p, _, err := c.GetProfile(ctx, LedgerLock)
	if err != nil {
		return time.Time{}, err
	}
	ns, err := strconv.ParseInt(p.Config[keyLockedAt], 10, 64)
	if err != nil {
		return time.Now(), nil
	}
	return time.Unix(0, ns), nil
}
