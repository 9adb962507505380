package cold_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/backupstore"
	"github.com/vcrcovery/vcrcovery/plugins/cold"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategytest"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// A service the standby has no room for is not restored there: with
// overflow_remote it is restored onto the bigger VM, at an address of that
// VM's pool; without, the incident needs attention and nothing was
// imported.
func TestColdOverflow(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs two real LXD daemons")
	}
	sb := testenv.StartLXD(t, testenv.LXDOptions{Name: "standby", Address: "127.0.0.2"})
	big := testenv.StartLXD(t, testenv.LXDOptions{Name: "bigger", Address: "127.0.0.3"})
	ctx := context.Background()
	port := testenv.FreePort(t)
	sb.LaunchService(t, "db", port)
	dir := t.TempDir()
	bigRemote := strategytest.Remote(big)
	bigRemote.AddressPool = "127.0.3.0/24"
	remotes := map[string]sdk.LXDRemote{"standby": strategytest.Remote(sb), "bigger": bigRemote}
	settings := json.RawMessage(`{"remote":"standby","proxy_device":"web"}`)
	if _, _, err := backupstore.CreateForService(ctx, "db", settings, strategytest.SharedJSON(t, remotes, dir)); err != nil {
		t.Fatal(err)
	}
	sbc, err := lxd.Connect(ctx, lxd.Config{Socket: sb.Socket})
	if err != nil {
		t.Fatal(err)
	}
	if err := strategy.RemoveInstance(ctx, sbc, "db"); err != nil {
		t.Fatal(err)
	}
	res, err := sbc.GetResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// More CPUs than the machine has. (Both daemons run on this one
	// machine; each counts what its own instances and ledger hold.)
	need := sdk.Resources{VCPUs: float64(res.CPU.Total) + 1}
	b, _ := json.Marshal(sdk.SharedSettings{LXDRemotes: remotes, BackupDir: dir, Resources: map[string]sdk.Resources{"db": need}})
	s := sdktest.GRPC(t, cold.Strategy{})
	req := sdk.PrepareRequest{IncidentID: "i1", Service: "db", Reason: "VCRDomainShutoff", Settings: settings, Shared: b}

	t.Run("no overflow: needs attention, nothing restored", func(t *testing.T) {
		_, err := s.Prepare(ctx, req, nil)
		if !errors.Is(err, sdk.ErrNeedsAttention) || !strings.Contains(err.Error(), `remote "standby" has no room for db`) {
			t.Fatalf("err = %v", err)
		}
		if insts, err := sbc.ListInstances(ctx); err != nil || len(insts) != 0 {
			t.Fatalf("the standby holds %v (%v) after a refused restore", insts, err)
		}
	})

	t.Run("overflow to the bigger VM", func(t *testing.T) {
		// All of the machine's CPUs: the idle bigger VM has them, the
		// standby not once something else holds one there.
		need.VCPUs = float64(res.CPU.Total)
		b, _ := json.Marshal(sdk.SharedSettings{LXDRemotes: remotes, BackupDir: dir, Resources: map[string]sdk.Resources{"db": need}})
		// Fill the standby: a reservation for something about to start.
		if _, err := strategy.Reserve(ctx, sbc, "standby", "other", sdk.Resources{VCPUs: 1}); err != nil {
			t.Fatal(err)
		}
		r := req
		r.Shared = b
		r.Settings = json.RawMessage(`{"remote":"standby","proxy_device":"web","overflow_remote":"bigger"}`)
		var progress []string
		ep, err := s.Prepare(ctx, r, func(p sdk.Progress) { progress = append(progress, p.Message) })
		if err != nil {
			t.Fatalf("Prepare: %v", err)
		}
		if ep.Details["remote"] != "bigger" || !strings.HasPrefix(ep.Address, "127.0.3.") || ep.Port != port {
			t.Fatalf("endpoint %+v", ep)
		}
		if !strings.Contains(strings.Join(progress, "\n"), "restoring onto the overflow remote bigger") {
			t.Errorf("progress = %q", progress)
		}
		strategytest.WaitPage(t, ep.Address, ep.Port, "db\n", 15*time.Second)
		// Abort removes what this incident restored, wherever it went.
		if err := s.Abort(ctx, sdk.AbortRequest{IncidentID: "i1", Service: "db", Settings: r.Settings, Shared: b}); err != nil {
			t.Fatal(err)
		}
		bigc, err := lxd.Connect(ctx, lxd.Config{Socket: big.Socket})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := bigc.GetInstance(ctx, "db"); !errors.Is(err, lxd.ErrNotFound) {
			t.Fatalf("db on the bigger VM after Abort: %v", err)
		}
	})
}
