package backupstore

import (
	"archive/tar"
	"compress/gzip"
	"os"
)

// DataManifest is the first entry of a data backup: vcr-sync's format
// `vcr-sync-data/1` (datasync/README.md), a database dump and files taken
// from the primary. Everything else in a service's folder is an LXD export.
// Both kinds may share a folder: the first entry tells them apart, so a data
// tarball is never imported as a container, and each kind is pruned on its
// own.
const DataManifest = "vcr-sync/manifest.json"

// isData reports whether the tarball at path is a data backup. A tarball that
// cannot be read counts as an export: restoring it fails and names why.
func isData(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return false
	}
	h, err := tar.NewReader(gz).Next()
	return err == nil && h.Name == DataManifest
}

// Exports returns the service's LXD exports, newest first.
func (s *Store) Exports(service string) ([]Backup, error) { return s.listKind(service, false) }

// DataBackups returns the service's data backups, newest first.
func (s *Store) DataBackups(service string) ([]Backup, error) { return s.listKind(service, true) }

func (s *Store) listKind(service string, data bool) ([]Backup, error) {
	bs, err := s.List(service)
	if err != nil {
		return nil, err
	}
	var out []Backup
	for _, b := range bs {
		if b.Data == data {
			out = append(out, b)
		}
	}
	return out, nil
}
