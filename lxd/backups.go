package lxd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"time"
)

// Backup is an instance backup held by the daemon.
type Backup struct {
	Name             string    `json:"name"`
	CreatedAt        time.Time `json:"created_at"`
	ExpiresAt        time.Time `json:"expires_at"`
	InstanceOnly     bool      `json:"instance_only"`
	OptimizedStorage bool      `json:"optimized_storage"`
}

// BackupOptions tunes CreateBackup. The zero value makes a portable backup
// of the instance alone, which any daemon with any storage driver imports.
type BackupOptions struct {
	// Name of the backup; empty lets LXD pick one (backup0, backup1...).
	Name string
	// ExpiresAt makes LXD delete the backup by itself; zero means never.
	ExpiresAt time.Time
	// IncludeSnapshots keeps the instance's snapshots in the backup.
	IncludeSnapshots bool
	// OptimizedStorage uses the storage driver's own format (not portable
	// across drivers).
	OptimizedStorage bool
	// Compression is e.g. "gzip" (LXD's default when empty) or "none".
	Compression string
}

type backupsPost struct {
	Name                 string     `json:"name"`
	ExpiresAt            *time.Time `json:"expires_at,omitempty"`
	InstanceOnly         bool       `json:"instance_only"`
	ContainerOnly        bool       `json:"container_only"` // pre-"instances" name of the same flag
	OptimizedStorage     bool       `json:"optimized_storage"`
	CompressionAlgorithm string     `json:"compression_algorithm,omitempty"`
}

// ImportOptions tunes ImportBackup.
type ImportOptions struct {
	// Name gives the restored instance a new name (X-LXD-name); empty keeps
	// the name stored in the backup.
	Name string
	// Pool restores into this storage pool (X-LXD-pool); empty keeps the
	// backup's pool.
	Pool string
}

func backupPath(instance, backup string) string {
	return instancePath(instance) + "/backups/" + pathEscape(backup)
}

// CreateBackup makes a backup of an instance and returns its name.
func (c *Client) CreateBackup(ctx context.Context, instance string, opts BackupOptions) (string, error) {
	body := backupsPost{
		Name: opts.Name, InstanceOnly: !opts.IncludeSnapshots, ContainerOnly: !opts.IncludeSnapshots,
		OptimizedStorage: opts.OptimizedStorage, CompressionAlgorithm: opts.Compression,
	}
	if !opts.ExpiresAt.IsZero() {
		body.ExpiresAt = &opts.ExpiresAt
	}
	op, err := c.run(ctx, request{method: http.MethodPost, path: instancePath(instance) + "/backups", body: body})
	if err != nil {
		return "", fmt.Errorf("create backup of instance %q: %w", instance, err)
	}
	if opts.Name != "" {
		return opts.Name, nil
	}
	for _, u := range op.Resources["backups"] {
		if p, err := url.PathUnescape(path.Base(u)); err == nil && p != instance {
			return p, nil
		}
	}
	return "", fmt.Errorf("create backup of instance %q: LXD did not say the backup's name; give BackupOptions.Name", instance)
}

// ListBackups returns the backups the daemon holds for an instance.
func (c *Client) ListBackups(ctx context.Context, instance string) ([]Backup, error) {
	var out []Backup
	if _, err := c.query(ctx, request{method: http.MethodGet, path: instancePath(instance) + "/backups", query: url.Values{"recursion": {"1"}}}, &out); err != nil {
		return nil, fmt.Errorf("list backups of instance %q: %w", instance, err)
	}
	return out, nil
}

// DeleteBackup deletes a backup from the daemon.
func (c *Client) DeleteBackup(ctx context.Context, instance, backup string) error {
	if _, err := c.run(ctx, request{method: http.MethodDelete, path: backupPath(instance, backup)}); err != nil {
		return fmt.Errorf("delete backup %q of instance %q: %w", backup, instance, err)
	}
	return nil
}

// ExportBackup streams a backup tarball into w and returns its size.
func (c *Client) ExportBackup(ctx context.Context, instance, backup string, w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	if _, _, err := c.do(ctx, request{method: http.MethodGet, path: backupPath(instance, backup) + "/export", stream: true, respOut: cw}); err != nil {
		return cw.n, fmt.Errorf("export backup %q of instance %q: %w", backup, instance, err)
	}
	if cw.n == 0 {
		return 0, fmt.Errorf("export backup %q of instance %q: empty answer; check the backup finished and retry", backup, instance)
	}
	return cw.n, nil
}

// ExportBackupFile writes a backup tarball to file. The file appears
// complete or not at all: it is written beside and renamed into place.
func (c *Client) ExportBackupFile(ctx context.Context, instance, backup, file string) (int64, error) {
	return writeAtomically(file, func(w io.Writer) (int64, error) { return c.ExportBackup(ctx, instance, backup, w) })
}

// ExportInstance makes a fresh backup of an instance, streams it into w and
// deletes it from the daemon again: the one call a backup store needs.
func (c *Client) ExportInstance(ctx context.Context, instance string, w io.Writer) (int64, error) {
	name, err := c.CreateBackup(ctx, instance, BackupOptions{Name: fmt.Sprintf("vcr-%d", time.Now().UnixNano())})
	if err != nil {
		return 0, err
	}
	n, err := c.ExportBackup(ctx, instance, name, w)
	// The backup must not linger on the daemon's disk even if ctx ended.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	derr := c.DeleteBackup(dctx, instance, name)
	if err != nil {
		return n, err
	}
	return n, derr
}

// ExportInstanceFile is ExportInstance into a file, written atomically.
func (c *Client) ExportInstanceFile(ctx context.Context, instance, file string) (int64, error) {
	return writeAtomically(file, func(w io.Writer) (int64, error) { return c.ExportInstance(ctx, instance, w) })
}

// ImportBackup creates an instance from a backup tarball (what ExportBackup
// wrote) and waits until it exists. The instance is left stopped.
func (c *Client) ImportBackup(ctx context.Context, r io.Reader, opts ImportOptions) error {
	hdr := http.Header{}
	if opts.Name != "" {
		hdr.Set("X-LXD-name", opts.Name)
	}
	if opts.Pool != "" {
		hdr.Set("X-LXD-pool", opts.Pool)
	}
	if _, err := c.run(ctx, request{method: http.MethodPost, path: "/1.0/instances", body: r, header: hdr, stream: true}); err != nil {
		what := "backup"
		if opts.Name != "" {
			what = fmt.Sprintf("backup as instance %q", opts.Name)
		}
		return fmt.Errorf("import %s: %w", what, err)
	}
	return nil
}

// ImportBackupFile is ImportBackup from a file.
func (c *Client) ImportBackupFile(ctx context.Context, file string, opts ImportOptions) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("import backup: %w", err)
	}
	defer f.Close()
	if err := c.ImportBackup(ctx, f, opts); err != nil {
		return fmt.Errorf("%w (file %s)", err, file)
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func writeAtomically(file string, fill func(io.Writer) (int64, error)) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*.part")
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", file, err)
	}
	n, err := fill(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		os.Remove(tmp.Name())
		var le *Error
		if !errors.As(err, &le) {
			err = fmt.Errorf("write %s: %w", file, err)
		}
		return n, err
	}
	return n, nil
}
