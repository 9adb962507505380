package backupstore

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"testing"
	"time"
)

// tarGz is a gzipped tarball whose first entry is named first.
func tarGz(t *testing.T, first string) ExportFunc {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: first, Mode: 0o644, Size: 2}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte("{}"))
	tw.Close()
	gz.Close()
	return func(_ context.Context, w io.Writer) error { _, err := w.Write(buf.Bytes()); return err }
}

// Data backups and LXD exports share a folder: each is listed, restored and
// pruned as its own kind.
func TestDataBackupsAndExportsShareAFolder(t *testing.T) {
	s, now := testStore(t)
	ctx := context.Background()
	for i := range 3 {
		if _, err := s.Create(ctx, "db", tarGz(t, "backup/index.yaml")); err != nil {
			t.Fatal(err)
		}
		*now = now.Add(time.Minute)
		if _, err := s.Create(ctx, "db", tarGz(t, DataManifest)); err != nil {
			t.Fatal(err)
		}
		*now = now.Add(time.Minute)
		_ = i
	}
	exports, _ := s.Exports("db")
	data, _ := s.DataBackups("db")
	if len(exports) != 3 || len(data) != 3 || exports[0].Data || !data[0].Data || !data[0].Time.After(exports[0].Time) {
		t.Fatalf("exports %+v, data %+v", exports, data)
	}
	newest, err := s.Newest("db")
	if err != nil || newest.Path != exports[0].Path {
		t.Errorf("Newest = %s (%v), want the newest export %s", newest.Name(), err, exports[0].Name())
	}
	var restored []string
	if _, err := s.RestoreNewest(ctx, "db", func(_ context.Context, b Backup, _ *os.File) error {
		restored = append(restored, b.Name())
		return nil
	}, nil); err != nil || len(restored) != 1 || restored[0] != exports[0].Name() {
		t.Errorf("RestoreNewest restored %v (%v), want only the newest export", restored, err)
	}
	if _, err := s.Prune("db", 1); err != nil {
		t.Fatal(err)
	}
	exports, _ = s.Exports("db")
	data, _ = s.DataBackups("db")
	if len(exports) != 1 || len(data) != 1 {
		t.Errorf("after Prune(1): %d exports, %d data backups; want one of each", len(exports), len(data))
	}
}
