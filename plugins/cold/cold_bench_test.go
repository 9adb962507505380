package cold_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
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

// BenchmarkColdRestore measures a cold recovery from the strategy's side:
// Prepare over gRPC on an empty standby (restore the newest backup, re-address,
// start) until the page answers. In the same run it boots the conventional
// cold standby, a QEMU (TCG) VM under libvirt, until its page answers, and
// reports how many times faster the container is.
//
// VCR_BENCH_SAMPLES (default 5) sets the container samples per b.N and
// VCR_BENCH_VM_SAMPLES (default 1, 0 skips) the VM boots.
func BenchmarkColdRestore(b *testing.B) {
	x := testenv.StartLXD(b, testenv.LXDOptions{Name: "standby", Address: "127.0.0.2"})
	port := testenv.FreePort(b)
	x.LaunchService(b, "web", port)
	// The primary's own address, as a backup taken there would carry.
	x.Lxc(b, "config", "device", "set", "web", "web", fmt.Sprintf("listen=tcp:127.0.0.9:%d", port))
	ctx := context.Background()
	shared := strategytest.SharedJSON(b, map[string]sdk.LXDRemote{"standby": strategytest.Remote(x)}, b.TempDir())
	settings := json.RawMessage(`{"remote":"standby","proxy_device":"web"}`)
	bk, _, err := backupstore.CreateForService(ctx, "web", settings, shared)
	if err != nil {
		b.Fatal(err)
	}
	c, err := lxd.Connect(ctx, lxd.Config{Socket: x.Socket})
	if err != nil {
		b.Fatal(err)
	}
	s := sdktest.GRPC(b, cold.Strategy{})
	req := sdk.PrepareRequest{Service: "web", Settings: settings, Shared: shared}
	b.Cleanup(func() { _ = strategy.RemoveInstance(ctx, c, "web") })

	var total, prep []time.Duration
	for range strategytest.Samples(b) {
		// A cold standby holds no copy of the service.
		if err := strategy.RemoveInstance(ctx, c, "web"); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		ep, err := s.Prepare(ctx, req, nil)
		if err != nil {
			b.Fatal(err)
		}
		prep = append(prep, time.Since(start))
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = strategytest.PageReady(rctx, ep.Address, ep.Port, "web\n")
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		total = append(total, time.Since(start))
	}
	b.Logf("cold restore (%s, %d bytes) → page ready: %v (prepare alone %v)", bk.Name(), bk.Size, total, prep)
	b.ReportMetric(strategytest.MS(strategytest.Median(total)), "ready-median-ms")
	b.ReportMetric(strategytest.MS(slices.Max(total)), "ready-max-ms")
	b.ReportMetric(strategytest.MS(strategytest.Median(prep)), "prepare-median-ms")

	nvm := strategytest.EnvSamples("VCR_BENCH_VM_SAMPLES", 1)
	if os.Getenv("VCR_BENCH_VM_SAMPLES") == "0" {
		nvm = 0
	}
	var vms []time.Duration
	if nvm > 0 {
		l := testenv.Libvirt(b)
		testenv.VMImage(b) // build (or fetch from cache) kernel and initramfs outside the timing
		for range nvm {
			start := time.Now()
			vm := l.StartVM(b, testenv.VMOptions{Body: "web\n"})
			vms = append(vms, time.Since(start))
			vm.Destroy(b, l) // TCG burns a core; free it before the next boot
		}
		b.Logf("VM cold standby boot → page ready: %v", vms)
		b.ReportMetric(strategytest.MS(strategytest.Median(vms)), "vm-ready-median-ms")
		b.ReportMetric(float64(strategytest.Median(vms))/float64(strategytest.Median(total)), "vm/container-ratio")
	}
}
