// Package uitest drives Debian's headless Chromium from Go tests, to check
// the status page as a browser renders it: the DOM after scripts ran, the
// DOM with scripts disabled, and screenshots. The integrator's end-to-end
// test points it at a live receiver during a real failover.
package uitest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Chromium returns the chromium binary, or skips the test: with -short, or
// when the Debian package is not installed.
func Chromium(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("headless Chromium test skipped with -short")
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not installed: apt-get install chromium (it belongs in the Makefile's DEB_PACKAGES)")
	return ""
}

// ArtifactDir is where screenshots go: $VCR_TEST_ARTIFACTS/<sub> when set,
// so they outlive the run, else the test's temporary directory.
func ArtifactDir(t testing.TB, sub string) string {
	t.Helper()
	if d := os.Getenv("VCR_TEST_ARTIFACTS"); d != "" {
		d = filepath.Join(d, sub)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// headlessArgs are the flags of every Chromium started here: headless, a
// fresh profile, no background traffic.
func headlessArgs(t testing.TB) []string {
	return []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=" + t.TempDir()}
}

// Run runs one headless Chromium with a fresh profile and no background
// traffic, and returns its stdout.
func Run(t testing.TB, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(headlessArgs(t), args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, lastLines(errb.String(), 20))
	}
	return out.String()
}

// DumpDOM loads url with JavaScript on, lets scripts run for up to 3 s of
// virtual time, and returns the DOM.
func DumpDOM(t testing.TB, bin, url string) string {
	t.Helper()
	return Run(t, bin, "--virtual-time-budget=3000", "--dump-dom", url)
}

// Screenshot saves a PNG of url in a width×height window to file and
// checks it is a real image.
func Screenshot(t testing.TB, bin, url, file string, width, height int) {
	t.Helper()
	Run(t, bin, "--window-size="+strconv.Itoa(width)+","+strconv.Itoa(height), "--virtual-time-budget=3000", "--screenshot="+file, url)
	CheckPNG(t, file)
}

// CheckPNG fails unless file is a PNG big enough to hold a rendered page.
func CheckPNG(t testing.TB, file string) {
	t.Helper()
	png, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if len(png) < 10_000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot %s is not a rendered page (%d bytes)", file, len(png))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
