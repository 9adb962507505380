package backupstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// RestoreFunc restores one backup (for example, imports it into LXD). An error
// makes RestoreNewest move on to the next-newest backup.
type RestoreFunc func(ctx context.Context, b Backup, f *os.File) error

// RestoreNewest tries the service's LXD exports newest first (data backups
// are not containers: DataBackups lists them): each one is checked
// against its checksum and handed to restore; the first that restores wins.
// Corrupt or failing backups are reported through note (may be nil) and the
// next-newest is tried. If none works, the error lists why each one failed.
func (s *Store) RestoreNewest(ctx context.Context, service string, restore RestoreFunc, note func(string)) (Backup, error) {
	if note == nil {
		note = func(string) {}
	}
	bs, err := s.Exports(service)
	if err != nil {
		return Backup{}, err
	}
	if len(bs) == 0 {
		return Backup{}, s.noBackup(service)
	}
	var fails []string
	for i, b := range bs {
		if err := ctx.Err(); err != nil {
			return Backup{}, fmt.Errorf("restore %s: %w", service, err)
		}
		err := s.Verify(b)
		if err == nil {
			err = s.restoreOne(ctx, b, restore)
		}
		if err == nil {
			if i > 0 {
				note(fmt.Sprintf("restored %s, the %s newest backup, after %d failed", b.Name(), ordinal(i+1), i))
			}
			return b, nil
		}
		fails = append(fails, fmt.Sprintf("%s: %v", b.Name(), err))
		if i+1 < len(bs) {
			note(fmt.Sprintf("backup %s unusable (%v); trying the next-newest, %s", b.Name(), err, bs[i+1].Name()))
		} else {
			note(fmt.Sprintf("backup %s unusable (%v); no older backup left", b.Name(), err))
		}
		if ctx.Err() != nil {
			break
		}
	}
	return Backup{}, fmt.Errorf("restore %s: all %d backups failed: %s: take a fresh backup with `vcrctl backup create %s` once the primary is back",
		service, len(bs), strings.Join(fails, "; "), service)
}

func (s *Store) restoreOne(ctx context.Context, b Backup, restore RestoreFunc) error {
	f, err := os.Open(b.Path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer f.Close()
	if err := restore(ctx, b, f); err != nil {
		return err
	}
	return nil
}

func ordinal(n int) string {
	switch n {
	case 2:
		return "2nd"
	case 3:
		return "3rd"
	}
	return fmt.Sprintf("%dth", n)
}

// IsCorrupt reports whether err says a backup failed its checksum.
func IsCorrupt(err error) bool { return errors.Is(err, ErrCorrupt) }
