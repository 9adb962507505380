package datasync

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/backupstore"
)

// BackupFormat names the layout of a data backup, inside the tarball:
//
//	vcr-sync/manifest.json   this Manifest
//	vcr-sync/mariadb.sql     mariadb-dump --all-databases --single-transaction --gtid (if Database)
//	vcr-sync/files/<path>/…  each declared path, as it was on the primary
//
// The tarball sits in the backup store's layout (<dir>/<folder>/<UTC time>.tar.gz
// with its .sha256 sidecar), so backupstore lists, verifies and prunes it.
const BackupFormat = "vcr-sync-data/1"

// Manifest describes one data backup.
type Manifest struct {
	Format   string    `json:"format"`
	Service  string    `json:"service"`
	Taken    time.Time `json:"taken"` // when the copy started: the data is at least this fresh
	Primary  string    `json:"primary"`
	Database bool      `json:"database"`
	Paths    []string  `json:"paths"`
}

// backupOnce takes one cold backup of s from its primary into its store and
// prunes the store to backup.keep. It returns the new backup and the bytes
// moved over the wire.
func (r *runner) backupOnce(ctx context.Context) (backupstore.Backup, int64, error) {
	s := r.svc
	taken := time.Now()
	var wire int64
	mirror := mirrorDir(r.cfg.StateDir, s.Name, "backup")
	if len(s.Backup.Paths) > 0 {
		n, err := r.ssh.pullPaths(ctx, s.Primary.SSH, mirror, s.Backup.Paths, s.Sync.BWLimit)
		wire += n
		if err != nil {
			return backupstore.Backup{}, wire, err
		}
	}
	var dump string
	if s.Backup.Database {
		dump = filepath.Join(r.cfg.StateDir, "services", s.Name, "backup-dump.sql")
		// A service that backs up only its database has no mirror yet to
		// have made its directory.
		if err := os.MkdirAll(filepath.Dir(dump), 0o700); err != nil {
			return backupstore.Backup{}, wire, failure(CauseLocal, "backup "+s.Name, err)
		}
		f, err := os.Create(dump)
		if err != nil {
			return backupstore.Backup{}, wire, failure(CauseLocal, "backup "+s.Name, err)
		}
		cw := &countingWriter{w: f}
		err = r.ssh.Run(ctx, s.Primary.SSH, dumpCommand, nil, cw)
		wire += cw.n
		if cerr := f.Close(); err == nil && cerr != nil {
			err = failure(CauseLocal, "backup "+s.Name, cerr)
		}
		defer os.Remove(dump)
		if err != nil {
			return backupstore.Backup{}, wire, err
		}
	}
	store, err := backupstore.Open(s.Backup.Dir)
	if err != nil {
		return backupstore.Backup{}, wire, failure(CauseLocal, "backup "+s.Name, err)
	}
	m := Manifest{Format: BackupFormat, Service: s.Name, Taken: taken.UTC(), Primary: s.Primary.SSH,
		Database: s.Backup.Database, Paths: s.Backup.Paths}
	b, err := store.Create(ctx, s.Backup.Folder, func(ctx context.Context, w io.Writer) error {
		return writeDataBackup(w, m, dump, mirror)
	})
	if err != nil {
		return b, wire, failure(CauseLocal, "backup "+s.Name, err)
	}
	if _, err := store.Prune(s.Backup.Folder, s.Backup.Keep); err != nil {
		return b, wire, failure(CauseLocal, "backup "+s.Name+" made ("+b.Name()+"), but pruning failed", err)
	}
	return b, wire, nil
}

// writeDataBackup writes the tar.gz of BackupFormat to w.
func writeDataBackup(w io.Writer, m Manifest, dump, mirror string) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := addBytes(tw, "vcr-sync/manifest.json", append(mj, '\n'), m.Taken); err != nil {
		return err
	}
	if dump != "" {
		if err := addFile(tw, "vcr-sync/mariadb.sql", dump); err != nil {
			return err
		}
	}
	for _, p := range m.Paths {
		root := filepath.Join(mirror, p)
		err := filepath.WalkDir(root, func(file string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(mirror, file)
			return addEntry(tw, "vcr-sync/files/"+filepath.ToSlash(rel), file, d)
		})
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func addBytes(tw *tar.Writer, name string, data []byte, mt time.Time) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: mt}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func addFile(tw *tar.Writer, name, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// addEntry adds one file, directory or symlink of the mirror with its mode
// and numeric owner.
func addEntry(tw *tar.Writer, name, file string, d fs.DirEntry) error {
	fi, err := d.Info()
	if err != nil {
		return err
	}
	var link string
	if fi.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(file); err != nil {
			return err
		}
	}
	h, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	h.Name, h.Uname, h.Gname = name, "", ""
	if fi.IsDir() {
		h.Name += "/"
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if fi.Mode().IsRegular() {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	}
	return nil
}
