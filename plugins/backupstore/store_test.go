package backupstore

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testStore(t *testing.T) (*Store, *time.Time) {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	return s, &now
}

func exportString(data string) ExportFunc {
	return func(_ context.Context, w io.Writer) error {
		_, err := io.WriteString(w, data)
		return err
	}
}

func TestCreateNamingAndList(t *testing.T) {
	s, now := testStore(t)
	ctx := context.Background()
	b1, err := s.Create(ctx, "web", exportString("one"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b1.Name(), "20261125T100000.000Z.tar.gz"; got != want {
		t.Fatalf("name = %s, want %s", got, want)
	}
	sum, err := os.ReadFile(b1.Path + ".sha256")
	if err != nil {
		t.Fatal(err)
	}
	// sha256sum -c format, so operators can check by hand.
	if want := "7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed  20261125T100000.000Z.tar.gz\n"; string(sum) != want {
		t.Fatalf("sidecar = %q, want %q", sum, want)
	}
	// Same millisecond: the name is bumped, never overwritten.
	b2, err := s.Create(ctx, "web", exportString("two"))
	if err != nil {
		t.Fatal(err)
	}
	if b2.Name() != "20261125T100000.001Z.tar.gz" {
		t.Fatalf("second name = %s", b2.Name())
	}
	*now = now.Add(time.Hour)
	b3, err := s.Create(ctx, "web", exportString("three"))
	if err != nil {
		t.Fatal(err)
	}
	// Junk in the folder is ignored.
	os.WriteFile(filepath.Join(s.Dir(), "web", "notes.txt"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(s.Dir(), "web", ".tmp-123.tar.gz"), []byte("x"), 0o644)

	bs, err := s.List("web")
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 3 || bs[0].Path != b3.Path || bs[1].Path != b2.Path || bs[2].Path != b1.Path {
		t.Fatalf("list = %+v, want newest first b3,b2,b1", bs)
	}
	if bs[0].Size != int64(len("three")) || !bs[0].HasChecksum {
		t.Fatalf("newest = %+v", bs[0])
	}
	n, err := s.Newest("web")
	if err != nil || n.Path != b3.Path {
		t.Fatalf("newest = %+v, %v", n, err)
	}
	svcs, err := s.Services()
	if err != nil || len(svcs) != 1 || svcs[0] != "web" {
		t.Fatalf("services = %v, %v", svcs, err)
	}
}

func TestCreateFailedExportLeavesNothing(t *testing.T) {
	s, _ := testStore(t)
	_, err := s.Create(context.Background(), "web", func(_ context.Context, w io.Writer) error {
		io.WriteString(w, "partial")
		return errors.New("connection reset")
	})
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("err = %v", err)
	}
	_, err = s.Create(context.Background(), "web", exportString(""))
	if err == nil {
		t.Fatal("empty export accepted")
	}
	ents, _ := os.ReadDir(filepath.Join(s.Dir(), "web"))
	if len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}

func TestServiceNameValidation(t *testing.T) {
	s, _ := testStore(t)
	for _, bad := range []string{"", "../etc", "a/b", ".hidden", "a..b", strings.Repeat("x", 64)} {
		if _, err := s.Create(context.Background(), bad, exportString("x")); err == nil {
			t.Errorf("Create(%q) accepted", bad)
		}
		if _, err := s.List(bad); err == nil {
			t.Errorf("List(%q) accepted", bad)
		}
	}
	for _, good := range []string{"web", "db-1", "svc.example_2"} {
		if err := ValidService(good); err != nil {
			t.Errorf("ValidService(%q) = %v", good, err)
		}
	}
}

func TestNewestEmpty(t *testing.T) {
	s, _ := testStore(t)
	_, err := s.Newest("web")
	if !errors.Is(err, ErrNoBackup) || !strings.Contains(err.Error(), "vcrctl backup create web") {
		t.Fatalf("err = %v", err)
	}
}

func TestVerify(t *testing.T) {
	s, _ := testStore(t)
	b, err := s.Create(context.Background(), "web", exportString("payload"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(b); err != nil {
		t.Fatalf("fresh backup: %v", err)
	}
	// Flip a byte: corrupt.
	os.WriteFile(b.Path, []byte("paylaod"), 0o640)
	if err := s.Verify(b); !IsCorrupt(err) || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("tampered: %v", err)
	}
	// No sidecar: unverifiable, also corrupt.
	os.Remove(b.Path + ".sha256")
	if err := s.Verify(b); !IsCorrupt(err) || !strings.Contains(err.Error(), "sidecar") {
		t.Fatalf("no sidecar: %v", err)
	}
	bs, _ := s.List("web")
	if bs[0].HasChecksum {
		t.Fatal("HasChecksum true without sidecar")
	}
}

func TestPrune(t *testing.T) {
	s, now := testStore(t)
	var all []Backup
	for i := 0; i < 5; i++ {
		b, err := s.Create(context.Background(), "web", exportString("x"))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b)
		*now = now.Add(time.Minute)
	}
	stale := filepath.Join(s.Dir(), "web", ".tmp-dead.tar.gz")
	os.WriteFile(stale, []byte("x"), 0o644)
	old := now.Add(-time.Hour)
	os.Chtimes(stale, old, old)
	fresh := filepath.Join(s.Dir(), "web", ".tmp-live.tar.gz")
	os.WriteFile(fresh, []byte("x"), 0o644)
	os.Chtimes(fresh, *now, *now)

	if _, err := s.Prune("web", 0); err == nil {
		t.Fatal("keep=0 accepted")
	}
	removed, err := s.Prune("web", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 3 || removed[0].Path != all[2].Path || removed[2].Path != all[0].Path {
		t.Fatalf("removed = %+v", removed)
	}
	bs, _ := s.List("web")
	if len(bs) != 2 || bs[0].Path != all[4].Path || bs[1].Path != all[3].Path {
		t.Fatalf("kept = %+v", bs)
	}
	for _, b := range removed {
		if _, err := os.Stat(b.Path + ".sha256"); !os.IsNotExist(err) {
			t.Errorf("sidecar of %s survived", b.Name())
		}
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("stale temp file survived")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("in-progress temp file was removed")
	}
	// Pruning below the count is a no-op.
	if removed, err := s.Prune("web", 5); err != nil || len(removed) != 0 {
		t.Fatalf("prune 5 = %v, %v", removed, err)
	}
}
