package ownership_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategytest"
	"github.com/vcrcovery/vcrcovery/plugins/ownership"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

func TestAdoptAndRemoveAgainstLXD(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs a real LXD daemon")
	}
	x := testenv.StartLXD(t, testenv.LXDOptions{Name: "standby", Address: "127.0.0.2"})
	port := testenv.FreePort(t)
	x.LaunchService(t, "web", port)
	ctx := context.Background()
	c, err := lxd.Connect(ctx, lxd.Config{Socket: x.Socket})
	if err != nil {
		t.Fatal(err)
	}
	owner := func() ownership.Owner {
		t.Helper()
		inst, _, err := c.GetInstance(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		return ownership.Of(inst)
	}
	shared := strategytest.SharedJSON(t, map[string]sdk.LXDRemote{"standby": strategytest.Remote(x)}, "")
	settings := json.RawMessage(`{"remote":"standby"}`)

	// Nothing removes an unmarked instance.
	if removed, err := ownership.RemoveIfIncident(ctx, c, "web", "web", ""); err != nil || removed {
		t.Fatalf("RemoveIfIncident on an unmarked instance = %v, %v", removed, err)
	}

	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	a, err := ownership.Adopt(ctx, "web", settings, shared, ownership.AdoptOptions{Now: now})
	if err != nil || !a.Changed() || a.Remote != "standby" || a.Instance != "web" {
		t.Fatalf("Adopt = %+v, %v", a, err)
	}
	if o := owner(); o.Service != "web" || o.Incident != "adopted-20261125T100000Z" {
		t.Fatalf("marks after Adopt: %+v", o)
	}
	if a, err := ownership.Adopt(ctx, "web", settings, shared, ownership.AdoptOptions{}); err != nil || a.Changed() {
		t.Fatalf("second Adopt = %+v, %v; want no change", a, err)
	}
	if _, err := ownership.Adopt(ctx, "api", json.RawMessage(`{"remote":"standby","instance":"web"}`), shared, ownership.AdoptOptions{}); err == nil || !strings.Contains(err.Error(), `belongs to service "web"`) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("Adopt of web's instance for api = %v", err)
	}
	if _, err := ownership.Adopt(ctx, "web", settings, shared, ownership.AdoptOptions{Instance: "ghost"}); err == nil || !strings.Contains(err.Error(), `no instance "ghost"`) {
		t.Fatalf("Adopt of a missing instance = %v", err)
	}
	// Adopting wrote config only: the service still serves.
	strategytest.WaitPage(t, x.Address, port, "web\n", 5*time.Second)

	// An adoption is no incident: no Abort removes what an operator adopted.
	if removed, err := ownership.RemoveIfIncident(ctx, c, "web", "web", ""); err != nil || removed {
		t.Fatalf("RemoveIfIncident on an adopted instance = %v, %v", removed, err)
	}
	if err := ownership.Mark(ctx, c, "web", ownership.Marks("web", "inc-9", nil)); err != nil {
		t.Fatal(err)
	}
	if removed, err := ownership.RemoveIfIncident(ctx, c, "web", "web", "inc-8"); err != nil || removed {
		t.Fatalf("RemoveIfIncident for another incident = %v, %v", removed, err)
	}
	if removed, err := ownership.RemoveIfIncident(ctx, c, "web", "web", "inc-9"); err != nil || !removed {
		t.Fatalf("RemoveIfIncident for its own incident = %v, %v", removed, err)
	}
	if _, _, err := c.GetInstance(ctx, "web"); err == nil {
		t.Error("web survived the removal of its own incident")
	}
}
