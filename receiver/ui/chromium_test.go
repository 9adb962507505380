package ui

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/ui/uitest"
)

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
	bin := uitest.Chromium(t)
	url := serveFixture(t)

	// With JavaScript: the DOM after scripts ran has the timelines and the
	// refresh switch the script adds.
	dom := uitest.DumpDOM(t, bin, url)
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
	noJS, noJSPng := uitest.LoadWithoutScripts(t, bin, url)
	for _, want := range []string{`data-phase="verify" data-outcome="ok"`, `data-phase="fence" data-outcome="failed"`, "$15,189.84 saved", `action="/confirm"`} {
		if !strings.Contains(noJS, want) {
			t.Errorf("DOM without JavaScript lacks %s", want)
		}
	}
	if strings.Contains(noJS, `id="autorefresh"`) {
		t.Error("scripts ran although disabled: the no-JS check proves nothing")
	}

	dir := uitest.ArtifactDir(t, "receiver-ui")
	shot := filepath.Join(dir, "status-page.png")
	uitest.Screenshot(t, bin, url, shot, 1280, 900)
	t.Logf("screenshot: %s", shot)
	// A tall one shows the whole page: recent incidents and the cost section.
	full := filepath.Join(dir, "status-page-full.png")
	uitest.Screenshot(t, bin, url, full, 1280, 2600)
	t.Logf("full-page screenshot: %s", full)
	noJSShot := filepath.Join(dir, "status-page-nojs.png")
	if err := os.WriteFile(noJSShot, noJSPng, 0o644); err != nil {
		t.Fatal(err)
	}
	uitest.CheckPNG(t, noJSShot)
	t.Logf("screenshot without JavaScript: %s", noJSShot)
}
