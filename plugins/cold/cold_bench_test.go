package cold_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/cold"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
	"github.com/vcrcovery/vcrcovery/plugins/warm"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

func samplesFromEnv(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func pageReady(ctx context.Context, addr string, port int, want string) error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	url := fmt.Sprintf("http://%s:%d/", addr, port)
	for {
		if resp, err := c.Get(url); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && string(body) == want {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s never served %q: %w", url, want, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

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
	shared, _ := json.Marshal(sdk.SharedSettings{BackupDir: b.TempDir(), LXDRemotes: map[string]sdk.LXDRemote{"standby": {
		URL: x.URL, ClientCert: x.ClientCert, ClientKey: x.ClientKey, ServerCert: x.ServerCert, Address: x.Address}}})
	settings := json.RawMessage(`{"remote":"standby","proxy_device":"web"}`)
	bk, _, err := cold.CreateBackup(ctx, "web", settings, shared)
	if err != nil {
		b.Fatal(err)
	}
	c, err := lxd.Connect(ctx, lxd.Config{Socket: x.Socket})
	if err != nil {
		b.Fatal(err)
	}
	s := sdktest.GRPC(b, cold.Strategy{})
	req := sdk.PrepareRequest{Service: "web", Settings: settings, Shared: shared}
	b.Cleanup(func() { _ = warm.RemoveInstance(ctx, c, "web") })

	var total, prep []time.Duration
	for range samplesFromEnv("VCR_BENCH_SAMPLES", 5) * b.N {
		// A cold standby holds no copy of the service.
		if err := warm.RemoveInstance(ctx, c, "web"); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		ep, err := s.Prepare(ctx, req, nil)
		if err != nil {
			b.Fatal(err)
		}
		prep = append(prep, time.Since(start))
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = pageReady(rctx, ep.Address, ep.Port, "web\n")
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		total = append(total, time.Since(start))
	}
	b.Logf("cold restore (%s, %d bytes) → page ready: %v (prepare alone %v)", bk.Name(), bk.Size, total, prep)
	b.ReportMetric(ms(median(total)), "ready-median-ms")
	b.ReportMetric(ms(slices.Max(total)), "ready-max-ms")
	b.ReportMetric(ms(median(prep)), "prepare-median-ms")

	nvm := samplesFromEnv("VCR_BENCH_VM_SAMPLES", 1)
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
		b.ReportMetric(ms(median(vms)), "vm-ready-median-ms")
		b.ReportMetric(float64(median(vms))/float64(median(total)), "vm/container-ratio")
	}
}
