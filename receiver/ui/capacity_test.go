package ui

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

func TestIndexCapacity(t *testing.T) {
	f := loadFixture(t)
	src := f.source()
	src.CapacityFunc = func(context.Context) (*api.Capacity, error) {
		return &api.Capacity{Scopes: []api.CapacityScope{
			{Scope: api.ScopeHost, Name: "hv1", Services: []string{"web", "db"}, Fits: true, RecoverySeconds: 2.05,
				Targets: []api.CapacityTarget{{Remote: "standby", Services: []string{"db", "web"}, NeedVCPUs: 3, NeedMemoryBytes: 3 << 30, FreeVCPUs: 4, FreeMemoryBytes: 8 << 30, Fits: true}}},
			{Scope: api.ScopeCloud, Name: "dc1", Services: []string{"web", "db", "mail"}, ShortfallVCPUs: 2, ShortfallMemoryBytes: 1 << 30,
				Undeclared: []string{"mail"}, Problems: []string{"remote bigger could not be read: connection refused"}},
		}}, nil
	}
	_, doc, _ := get(t, newTestHandler(src, Options{}), "/")
	for scope, want := range map[string]string{
		"host/hv1":  "host hv1 2 yes 2.05s standby: 2 need 3 vCPUs, 3.0 GiB; free 4 vCPUs, 8.0 GiB",
		"cloud/dc1": "cloud dc1 3 no remote bigger could not be read: connection refused not counted (no resources declared): mail 2 vCPUs and 1.0 GiB",
	} {
		rows := find(doc, hasAttr("data-scope", scope))
		if len(rows) != 1 || !strings.Contains(text(rows[0]), want) {
			t.Errorf("row %s: %v, want it to contain %q", scope, rowTexts(rows), want)
		}
	}

	// A failing view says so in its section; without one, no section.
	src.CapacityFunc = func(context.Context) (*api.Capacity, error) { return nil, errors.New("boom") }
	_, doc, _ = get(t, newTestHandler(src, Options{}), "/")
	if s := text(byID(doc, "capacity")); !strings.Contains(s, "Cannot read the capacity view: boom") {
		t.Errorf("capacity section %q", s)
	}
	src.CapacityFunc = nil
	if _, doc, _ = get(t, newTestHandler(src, Options{}), "/"); byID(doc, "capacity") != nil {
		t.Error("a source without a capacity view must leave the section out")
	}
}

func rowTexts(rows []*html.Node) []string {
	var out []string
	for _, r := range rows {
		out = append(out, text(r))
	}
	return out
}
