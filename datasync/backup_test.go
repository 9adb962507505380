package datasync

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteDataBackupLayout(t *testing.T) {
	mirror := t.TempDir()
	if err := os.MkdirAll(filepath.Join(mirror, "var/www/html/img"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(mirror, "var/www/html"), "index.html", "hello\n")
	if err := os.Symlink("index.html", filepath.Join(mirror, "var/www/html/home.html")); err != nil {
		t.Fatal(err)
	}
	dump := writeFile(t, t.TempDir(), "dump.sql", "CREATE TABLE t (id INT);\n")
	m := Manifest{Format: BackupFormat, Service: "web", Taken: time.Unix(1700000000, 0).UTC(), Database: true, Paths: []string{"/var/www/html"}}
	var buf bytes.Buffer
	if err := writeDataBackup(&buf, m, dump, mirror); err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = string(b) + h.Linkname
	}
	var back Manifest
	if err := json.Unmarshal([]byte(got["vcr-sync/manifest.json"]), &back); err != nil || back.Service != "web" || !back.Database {
		t.Errorf("manifest %q: %v", got["vcr-sync/manifest.json"], err)
	}
	for name, want := range map[string]string{
		"vcr-sync/mariadb.sql":                   "CREATE TABLE t (id INT);\n",
		"vcr-sync/files/var/www/html/":           "",
		"vcr-sync/files/var/www/html/img/":       "",
		"vcr-sync/files/var/www/html/index.html": "hello\n",
		"vcr-sync/files/var/www/html/home.html":  "index.html",
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %q (present %v), want %q", name, v, ok, want)
		}
	}
}
