package ui

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/vcrcovery/vcrcovery/cost"
	"github.com/vcrcovery/vcrcovery/internal/testfixture"
	"github.com/vcrcovery/vcrcovery/receiver/api"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var fixedNow = testfixture.Now

type fixture struct {
	services    []api.ServiceStatus
	incidents   []api.Incident
	standby     []StandbyVM
	maintenance []api.Maintenance
	cost        *cost.Config
}

func loadFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{}
	testfixture.ReadJSON(t, "testdata/services.json", &f.services)
	f.incidents = testfixture.Incidents(t)
	testfixture.ReadJSON(t, "testdata/standby.json", &f.standby)
	testfixture.ReadJSON(t, "testdata/maintenance.json", &f.maintenance)
	c, err := cost.Load("../../cost/testdata/paper.yml")
	if err != nil {
		t.Fatal(err)
	}
	f.cost = c
	return f
}

func (f *fixture) source() Funcs {
	return Funcs{
		ServicesFunc:    func(context.Context) ([]api.ServiceStatus, error) { return f.services, nil },
		IncidentsFunc:   func(context.Context) ([]api.Incident, error) { return f.incidents, nil },
		StandbyFunc:     func(context.Context) ([]StandbyVM, error) { return f.standby, nil },
		MaintenanceFunc: func(context.Context) ([]api.Maintenance, error) { return f.maintenance, nil },
		CostConfig:      func() *cost.Config { return f.cost },
	}
}

// get serves one request through h and parses the answer.
func get(t *testing.T, h http.Handler, path string) (int, *html.Node, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body := rec.Body.String()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("GET %s: not HTML: %v", path, err)
	}
	return rec.Code, doc, body
}

// find returns the elements for which match is true, in document order.
func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(key, val string) func(*html.Node) bool {
	return func(n *html.Node) bool { return attr(n, key) == val }
}

func tagAttr(tag, key, val string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == tag && attr(n, key) == val }
}

func byID(doc *html.Node, id string) *html.Node {
	els := find(doc, hasAttr("id", id))
	if len(els) == 0 {
		return nil
	}
	return els[0]
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if n.Type == html.ElementNode && blocks[n.Data] {
			b.WriteByte(' ') // cells and paragraphs read as separate words
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

var blocks = map[string]bool{"td": true, "th": true, "tr": true, "li": true, "p": true, "div": true, "h2": true, "h3": true, "dt": true, "dd": true}

func render(n *html.Node) string {
	var b strings.Builder
	_ = html.Render(&b, n)
	return b.String()
}

var errBoom = errors.New("GET /api/v1/services: connection refused (is vcr-receiver running at http://127.0.0.1:9478?)")

func writeTestJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
