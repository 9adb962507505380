package ui

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromium finds Debian's chromium, or skips.
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("headless Chromium test skipped with -short")
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not installed: apt-get install chromium (it is in the Makefile's DEB_PACKAGES)")
	return ""
}

// artifactDir is where screenshots go: $VCR_TEST_ARTIFACTS when set, so CI
// keeps them, else the test's temporary directory.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("VCR_TEST_ARTIFACTS"); d != "" {
		d = filepath.Join(d, "receiver-ui")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// runChromium runs one headless Chromium with a fresh profile and returns
// its stdout. Chromium's own chatter goes to stderr and is logged on
// failure only.
func runChromium(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, lastLines(errb.String(), 20))
	}
	return out.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// serveFixture starts the page on loopback with the fixture data, with a
// stand-in API under /api/v1/ the way the receiver mounts both.
func serveFixture(t *testing.T) string {
	t.Helper()
	f := loadFixture(t)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	})
	mux.Handle("/", New(f.source(), Options{Now: func() time.Time { return fixedNow }}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/"
}

func TestChromiumRendersTimeline(t *testing.T) {
	bin := chromium(t)
	url := serveFixture(t)

	// With JavaScript: the DOM after scripts ran has the timelines and the
	// refresh switch the script adds.
	dom := runChromium(t, bin, "--virtual-time-budget=3000", "--dump-dom", url)
	for _, want := range []string{
		`data-incident="20261125T094500Z-db"`,
		`data-phase="switch" data-outcome="ok"`,
		`data-phase="prepare" data-outcome="running"`,
		`data-phase="fence" data-outcome="failed"`,
		"could not make sure the primary is down",
		`data-model="vcrcovery-warm"`,
		`id="autorefresh"`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("DOM with JavaScript lacks %s", want)
		}
	}

	// Without JavaScript the page reads the same: timelines are in the
	// served HTML, and only the script's additions are missing.
	noJS, noJSPng := loadWithoutScripts(t, bin, url)
	for _, want := range []string{`data-phase="verify" data-outcome="ok"`, `data-phase="fence" data-outcome="failed"`, "$15,189.84 saved", `action="/confirm"`} {
		if !strings.Contains(noJS, want) {
			t.Errorf("DOM without JavaScript lacks %s", want)
		}
	}
	if strings.Contains(noJS, `id="autorefresh"`) {
		t.Error("scripts ran although disabled: the no-JS check proves nothing")
	}

	shot := filepath.Join(artifactDir(t), "status-page.png")
	runChromium(t, bin, "--window-size=1280,900", "--virtual-time-budget=3000", "--screenshot="+shot, url)
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if len(png) < 10_000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot %s is not a real PNG page (%d bytes)", shot, len(png))
	}
	t.Logf("screenshot: %s", shot)
	// A tall one shows the whole page: recent incidents and the cost section.
	full := filepath.Join(filepath.Dir(shot), "status-page-full.png")
	runChromium(t, bin, "--window-size=1280,2600", "--virtual-time-budget=3000", "--screenshot="+full, url)
	t.Logf("full-page screenshot: %s", full)
	noJSShot := filepath.Join(filepath.Dir(shot), "status-page-nojs.png")
	if err := os.WriteFile(noJSShot, noJSPng, 0o644); err != nil {
		t.Fatal(err)
	}
	if len(noJSPng) < 10_000 || !bytes.HasPrefix(noJSPng, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("no-JS screenshot %s is not a real PNG page (%d bytes)", noJSShot, len(noJSPng))
	}
	t.Logf("screenshot without JavaScript: %s", noJSShot)
}
