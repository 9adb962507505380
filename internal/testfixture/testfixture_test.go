package testfixture

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIncidentsAreFresh(t *testing.T) {
	a := Incidents(t)
	if len(a) == 0 || a[0].ID == "" {
		t.Fatalf("fixture incidents = %+v", a)
	}
	a[0].ID = "changed"
	if b := Incidents(t); b[0].ID == "changed" {
		t.Error("Incidents shares state between calls")
	}
}

func TestGoldenUpdateThenCompare(t *testing.T) {
	file := filepath.Join(t.TempDir(), "x.golden")
	Golden(t, file, "hello\n", true)
	if b, err := os.ReadFile(file); err != nil || string(b) != "hello\n" {
		t.Fatalf("update wrote %q, %v", b, err)
	}
	Golden(t, file, "hello\n", false)
	r := &recorder{TB: t}
	Golden(r, file, "other\n", false)
	if !r.failed {
		t.Error("a differing output passed")
	}
}

// recorder notes a failure instead of failing the surrounding test.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }
