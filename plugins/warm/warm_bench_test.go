package warm

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
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// benchSamples is how many timed runs a benchmark makes per b.N: `make bench`
// runs each benchmark once (-benchtime 1x), and a median needs several.
func benchSamples(b *testing.B) int {
	n := 5
	if v, err := strconv.Atoi(os.Getenv("VCR_BENCH_SAMPLES")); err == nil && v > 0 {
		n = v
	}
	return n * b.N
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

// pageReady polls the service every 10 ms until it serves want.
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

// BenchmarkWarmPrepare measures a warm recovery from the strategy's side:
// Prepare over gRPC on a stopped standby container, until its page answers.
func BenchmarkWarmPrepare(b *testing.B) {
	x := testenv.StartLXD(b, testenv.LXDOptions{Name: "standby", Address: "127.0.0.2"})
	port := testenv.FreePort(b)
	x.LaunchService(b, "web", port)
	ctx := context.Background()
	c, err := lxd.Connect(ctx, lxd.Config{Socket: x.Socket})
	if err != nil {
		b.Fatal(err)
	}
	shared, _ := json.Marshal(sdk.SharedSettings{LXDRemotes: map[string]sdk.LXDRemote{"standby": {
		URL: x.URL, ClientCert: x.ClientCert, ClientKey: x.ClientKey, ServerCert: x.ServerCert, Address: x.Address}}})
	req := sdk.PrepareRequest{Service: "web", Settings: json.RawMessage(`{"remote":"standby","proxy_device":"web"}`), Shared: shared}
	s := sdktest.GRPC(b, Strategy{})
	// LXD's start finishes about a second after Prepare returns; let it, so
	// the daemon's shutdown at cleanup finds no busy instance.
	b.Cleanup(func() { _ = retryBusy(ctx, func() error { return c.StopInstance(ctx, "web", 0) }) })

	var total, prep []time.Duration
	for range benchSamples(b) {
		if err := retryBusy(ctx, func() error { return c.StopInstance(ctx, "web", 0) }); err != nil {
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
	b.ReportMetric(ms(median(total)), "ready-median-ms")
	b.ReportMetric(ms(slices.Max(total)), "ready-max-ms")
	b.ReportMetric(ms(median(prep)), "prepare-median-ms")
	b.Logf("warm prepare→page ready: %v (prepare alone %v)", total, prep)
}
