package testenv

import (
	"os"
	"path/filepath"
	"syscall"
)

// CacheDir is the persistent cache for downloaded and built artifacts (kernel,
// initramfs, LXD image tarballs), so later runs neither download nor rebuild.
// VCR_TESTENV_CACHE overrides it.
func CacheDir(t TB) string {
	t.Helper()
	d := os.Getenv("VCR_TESTENV_CACHE")
	if d == "" {
		d = "/var/cache/vcrcovery-testenv"
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatalf("testenv: create cache dir %s: %v (set VCR_TESTENV_CACHE to a writable dir)", d, err)
	}
	return d
}

// withCacheLock runs f holding an exclusive flock on <cache>/<name>.lock, so
// concurrent test processes build a cached artifact once.
func withCacheLock(t TB, name string, f func()) {
	t.Helper()
	lf, err := os.OpenFile(filepath.Join(CacheDir(t), name+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("testenv: open cache lock %s: %v", name, err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("testenv: lock cache %s: %v", name, err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	f()
}

// writeFileAtomic writes data to path via a temp file and rename.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
