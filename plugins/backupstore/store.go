package backupstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// TimeFormat names backups; it sorts lexically in time order.
const TimeFormat = "20060102T150405.000Z"

const (
	tarSuffix  = ".tar.gz"
	sumSuffix  = ".sha256"
	tmpPrefix  = ".tmp-"
	staleAfter = 10 * time.Minute // a .tmp- file this old belongs to a dead writer
)

// ErrNoBackup means a service has no backup at all in the store.
var ErrNoBackup = errors.New("no backup")

// ErrCorrupt marks a backup whose checksum is missing or does not match.
var ErrCorrupt = errors.New("backup corrupt")

var serviceRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// ValidService reports whether name can be used as a service folder: it must
// not escape the store directory or hide itself.
func ValidService(name string) error {
	if !serviceRe.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("service name %q: use letters, digits, '.', '_' and '-' (at most 63), starting with a letter or digit", name)
	}
	return nil
}

// Store is a backup directory. The zero value is not usable; use Open.
type Store struct {
	dir string
	now func() time.Time // tests pin the clock
}

// Open returns the store rooted at dir, creating dir if needed.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("backup store: no directory configured: set backup_dir in the receiver config")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("backup store %s: %w: check the path and its permissions", dir, err)
	}
	return &Store{dir: dir, now: time.Now}, nil
}

// Dir is the store's root directory.
func (s *Store) Dir() string { return s.dir }

// Backup is one tarball in the store.
type Backup struct {
	Service string
	Time    time.Time // UTC, from the file name
	Path    string    // the .tar.gz file
	Size    int64
	// HasChecksum is false when the sidecar is missing, i.e. the backup cannot
	// be verified and a restore skips it.
	HasChecksum bool
	// Data is set for a data backup (DataManifest), clear for an LXD export.
	Data bool
}

// Name is the file name of the tarball, e.g. 20261125T105545.123Z.tar.gz.
func (b Backup) Name() string { return filepath.Base(b.Path) }

func (b Backup) sumPath() string { return b.Path + sumSuffix }

// ExportFunc writes an LXD export tarball of the service's instance to w.
type ExportFunc func(ctx context.Context, w io.Writer) error

// Create writes a new backup of service with export and returns it. The
// tarball only appears under its final name once it is complete and synced,
// and its checksum sidecar is written after it.
func (s *Store) Create(ctx context.Context, service string, export ExportFunc) (Backup, error) {
	if err := ValidService(service); err != nil {
		return Backup{}, err
	}
	sdir := filepath.Join(s.dir, service)
	if err := os.MkdirAll(sdir, 0o750); err != nil {
		return Backup{}, fmt.Errorf("backup %s: %w: check the store's permissions", service, err)
	}
	t := s.uniqueTime(sdir)
	final := filepath.Join(sdir, t.Format(TimeFormat)+tarSuffix)
	tmp, err := os.CreateTemp(sdir, tmpPrefix+"*"+tarSuffix)
	if err != nil {
		return Backup{}, fmt.Errorf("backup %s: %w", service, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename

	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(tmp, h)}
	if err := export(ctx, cw); err != nil {
		tmp.Close()
		return Backup{}, fmt.Errorf("backup %s: export: %w", service, err)
	}
	if cw.n == 0 {
		tmp.Close()
		return Backup{}, fmt.Errorf("backup %s: export produced no data: check the instance exists on the remote", service)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return Backup{}, fmt.Errorf("backup %s: sync: %w", service, err)
	}
	if err := tmp.Close(); err != nil {
		return Backup{}, fmt.Errorf("backup %s: close: %w", service, err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return Backup{}, fmt.Errorf("backup %s: %w", service, err)
	}
	b := Backup{Service: service, Time: t, Path: final, Size: cw.n}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := writeFileAtomic(b.sumPath(), []byte(sum+"  "+b.Name()+"\n")); err != nil {
		return Backup{}, fmt.Errorf("backup %s: write checksum: %w (the tarball %s is kept but unverifiable)", service, err, final)
	}
	b.HasChecksum = true
	return b, nil
}

// uniqueTime returns now, bumped by a millisecond while a backup of that name
// exists, so two backups in the same millisecond never overwrite each other.
func (s *Store) uniqueTime(sdir string) time.Time {
	t := s.now().UTC().Truncate(time.Millisecond)
	for {
		if _, err := os.Stat(filepath.Join(sdir, t.Format(TimeFormat)+tarSuffix)); errors.Is(err, os.ErrNotExist) {
			return t
		}
		t = t.Add(time.Millisecond)
	}
}

// List returns the service's backups, newest first. Files that do not follow
// the naming scheme are ignored. A service without backups gives an empty list.
func (s *Store) List(service string) ([]Backup, error) {
	if err := ValidService(service); err != nil {
		return nil, err
	}
	sdir := filepath.Join(s.dir, service)
	ents, err := os.ReadDir(sdir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list backups of %s: %w", service, err)
	}
	names := map[string]bool{}
	for _, e := range ents {
		names[e.Name()] = true
	}
	var out []Backup
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, tarSuffix) || strings.HasPrefix(name, ".") {
			continue
		}
		t, err := time.Parse(TimeFormat, strings.TrimSuffix(name, tarSuffix))
		if err != nil {
			continue
		}
		var size int64
		if fi, err := e.Info(); err == nil {
			size = fi.Size()
		}
		out = append(out, Backup{
			Service:     service,
			Time:        t.UTC(),
			Path:        filepath.Join(sdir, name),
			Size:        size,
			HasChecksum: names[name+sumSuffix],
			Data:        isData(filepath.Join(sdir, name)),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}

// Services lists the services that have a folder in the store.
func (s *Store) Services() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list backup store %s: %w", s.dir, err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && ValidService(e.Name()) == nil {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Newest returns the service's newest LXD export, verified or not. It
// returns an error wrapping ErrNoBackup if there is none.
func (s *Store) Newest(service string) (Backup, error) {
	bs, err := s.Exports(service)
	if err != nil {
		return Backup{}, err
	}
	if len(bs) == 0 {
		return Backup{}, s.noBackup(service)
	}
	return bs[0], nil
}

// noBackup is the error for a service without any backup.
func (s *Store) noBackup(service string) error {
	return fmt.Errorf("%w for service %s in %s: create one with `vcrctl backup create %s`", ErrNoBackup, service, s.dir, service)
}

// Verify checks the backup against its sha256 sidecar. A missing sidecar, a
// missing tarball or a mismatch gives an error wrapping ErrCorrupt.
func (s *Store) Verify(b Backup) error {
	raw, err := os.ReadFile(b.sumPath())
	if err != nil {
		return fmt.Errorf("%w: %s: checksum sidecar unreadable (%v); the backup cannot be verified", ErrCorrupt, b.Name(), err)
	}
	want, _, _ := strings.Cut(strings.TrimSpace(string(raw)), " ")
	if len(want) != sha256.Size*2 {
		return fmt.Errorf("%w: %s: checksum sidecar %s is malformed", ErrCorrupt, b.Name(), filepath.Base(b.sumPath()))
	}
	f, err := os.Open(b.Path)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, b.Name(), err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("%w: %s: read: %v", ErrCorrupt, b.Name(), err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(want) {
		return fmt.Errorf("%w: %s: sha256 is %s, sidecar says %s", ErrCorrupt, b.Name(), got[:12], want[:12])
	}
	return nil
}

// Prune deletes all but the newest keep backups of service (tarball and
// sidecar), of each kind (LXD exports, data backups) on its own, and
// leftovers of interrupted writes. It returns what it deleted. keep must be
// at least 1: a store never prunes a service to nothing.
func (s *Store) Prune(service string, keep int) ([]Backup, error) {
	if keep < 1 {
		return nil, fmt.Errorf("prune %s: keep=%d: keep at least 1 backup (delete the folder by hand to drop a service)", service, keep)
	}
	bs, err := s.List(service)
	if err != nil {
		return nil, err
	}
	var removed []Backup
	var errs []error
	seen := map[bool]int{}
	for _, b := range bs {
		if seen[b.Data]++; seen[b.Data] <= keep {
			continue
		}
		if err := os.Remove(b.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		if err := os.Remove(b.sumPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		removed = append(removed, b)
	}
	s.removeStaleTemp(filepath.Join(s.dir, service))
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("prune %s: %w: check the store's permissions", service, err)
	}
	return removed, nil
}

func (s *Store) removeStaleTemp(sdir string) {
	ents, err := os.ReadDir(sdir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), tmpPrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && s.now().Sub(fi.ModTime()) > staleAfter {
			os.Remove(filepath.Join(sdir, e.Name()))
		}
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func writeFileAtomic(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), tmpPrefix+filepath.Base(path))
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
