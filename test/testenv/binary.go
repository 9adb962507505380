package testenv

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	binMu    sync.Mutex
	binDir   string
	binBuilt = map[string]string{} // name -> path, built by this process
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// ModuleRoot returns the directory holding the project's go.mod (via `go env GOMOD`).
func ModuleRoot(t TB) string {
	t.Helper()
	rootOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			rootErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			rootErr = fmt.Errorf("not inside a Go module: run from the VCRcovery checkout")
			return
		}
		rootDir = filepath.Dir(gomod)
	})
	if rootErr != nil {
		t.Fatalf("testenv: find module root: %v", rootErr)
	}
	return rootDir
}

// Binary returns the path of a project binary (vcr-exporter, vcr-receiver, vcrctl,
// vcr-strategy-*). It uses <root>/bin/<name> when that is newer than every .go
// file of the module; otherwise it builds ./cmd/<name> (or
// ./plugins/example/cmd/<name>) once per process into a private directory.
func Binary(t TB, name string) string {
	t.Helper()
	root := ModuleRoot(t)
	binMu.Lock()
	defer binMu.Unlock()
	if p, ok := binBuilt[name]; ok {
		return p
	}
	pkg := ""
	for _, c := range []string{filepath.Join("cmd", name), filepath.Join("plugins", "example", "cmd", name)} {
		if st, err := os.Stat(filepath.Join(root, c)); err == nil && st.IsDir() {
			pkg = "./" + c
			break
		}
	}
	if pkg == "" {
		t.Fatalf("testenv: no package for binary %q under %s/cmd or %s/plugins/example/cmd", name, root, root)
	}
	if p := filepath.Join(root, "bin", name); isFresh(p, root) {
		binBuilt[name] = p
		return p
	}
	if binDir == "" {
		binDir = newBinDir(t)
	}
	out := filepath.Join(binDir, name)
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv: go build %s: %v\n%s", pkg, err, b)
	}
	t.Logf("testenv: built %s in %s", name, time.Since(start).Round(time.Millisecond))
	binBuilt[name] = out
	return out
}

// isFresh reports whether bin exists and is newer than every .go file under root.
func isFresh(bin, root string) bool {
	st, err := os.Stat(bin)
	if err != nil {
		return false
	}
	mt := st.ModTime()
	fresh := true
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (strings.HasPrefix(n, ".") || n == "bin" || n == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") || d.Name() == "go.mod" || d.Name() == "go.sum" {
			if i, err := d.Info(); err == nil && i.ModTime().After(mt) {
				fresh = false
				return filepath.SkipAll
			}
		}
		return nil
	})
	return fresh
}

// newBinDir makes this process's build directory and removes those left by dead
// processes (the directory outlives any single test, so no t.Cleanup removes it).
func newBinDir(t TB) string {
	base := filepath.Join(os.TempDir(), "vcrcovery-testenv-bin")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatalf("testenv: create %s: %v", base, err)
	}
	if ents, err := os.ReadDir(base); err == nil {
		for _, e := range ents {
			if pid, err := strconv.Atoi(e.Name()); err == nil && pid != os.Getpid() && !pidAlive(pid) {
				_ = os.RemoveAll(filepath.Join(base, e.Name()))
			}
		}
	}
	d := filepath.Join(base, strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatalf("testenv: create %s: %v", d, err)
	}
	return d
}

// pidAlive reports whether pid exists and is not a zombie. Orphans here are
// reaped by a slow PID 1, so a killed daemon can stay a zombie for a second or two.
func pidAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the ")" that closes the command name.
	if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}
