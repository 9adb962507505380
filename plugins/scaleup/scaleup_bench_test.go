package scaleup

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/internal/strategytest"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/plugins/sdk/sdktest"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// prober sends an HTTP GET to each address every 10 ms, each in its own
// goroutine so a hung request (a frozen source) does not delay the next
// probe, and records when answers with the expected page arrived.
type prober struct {
	mu      sync.Mutex
	answers []time.Time
	stop    chan struct{}
	done    sync.WaitGroup
}

func startProber(addrs []string, want string) *prober {
	p := &prober{stop: make(chan struct{})}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			for _, a := range addrs {
				p.done.Add(1)
				go func() {
					defer p.done.Done()
					host, port, _ := splitAddr(a)
					if page, err := strategytest.Get(host, port); err == nil && page == want {
						p.mu.Lock()
						p.answers = append(p.answers, time.Now())
						p.mu.Unlock()
					}
				}()
			}
		}
	}()
	return p
}

func splitAddr(a string) (string, int, error) {
	for i := len(a) - 1; i >= 0; i-- {
		if a[i] == ':' {
			p, err := strconv.Atoi(a[i+1:])
			return a[:i], p, err
		}
	}
	return "", 0, fmt.Errorf("no port in %q", a)
}

// gap stops probing and returns the longest stretch without any answer.
func (p *prober) gap() time.Duration {
	close(p.stop)
	p.done.Wait()
	slices.SortFunc(p.answers, func(a, b time.Time) int { return a.Compare(b) })
	var longest time.Duration
	for i := 1; i < len(p.answers); i++ {
		longest = max(longest, p.answers[i].Sub(p.answers[i-1]))
	}
	return longest
}

// BenchmarkScaleupWindow moves the busybox service between two LXD daemons
// (standby 127.0.0.2 and bigvm 127.0.0.3, back and forth) with the scaleup
// strategy over gRPC, live first (it fails here) then stateless with
// pre-copy, freeze, refresh and start. It probes the service at both
// addresses every 10 ms and reports the longest stretch in which neither
// answered: the service's unreachable window, not counting the DNS switch.
func BenchmarkScaleupWindow(b *testing.B) {
	pr := startPair(b)
	shared := pr.shared
	port := testenv.FreePort(b)
	pr.standby.LaunchService(b, "web", port)
	s := sdktest.GRPC(b, &Strategy{})
	ctx := context.Background()
	addrs := []string{fmt.Sprintf("127.0.0.2:%d", port), fmt.Sprintf("127.0.0.3:%d", port)}

	var windows, prep []time.Duration
	methods := map[string]int{}
	from, to := "standby", "bigvm"
	for range strategytest.Samples(b) {
		settings := json.RawMessage(fmt.Sprintf(`{"source":%q,"target":%q,"proxy_device":"web","sample_interval":"100ms"}`, from, to))
		req := sdk.PrepareRequest{Service: "web", Reason: "VCRStandbyOverloaded", Settings: settings, Shared: shared}
		p := startProber(addrs, "web\n")
		time.Sleep(100 * time.Millisecond) // a few answers before the move
		start := time.Now()
		var progress []string
		ep, err := s.Prepare(ctx, req, func(p sdk.Progress) {
			progress = append(progress, fmt.Sprintf("%6dms %s", p.Time.Sub(start).Milliseconds(), p.Message))
		})
		if err != nil {
			p.gap()
			b.Fatal(err)
		}
		prep = append(prep, time.Since(start))
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		for rctx.Err() == nil {
			if page, err := strategytest.Get(ep.Address, ep.Port); err == nil && page == "web\n" {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		time.Sleep(100 * time.Millisecond) // a few answers after
		windows = append(windows, p.gap())
		fmt.Fprintf(os.Stderr, "move %s→%s: window %s\n%s\n", from, to, windows[len(windows)-1].Round(time.Millisecond), strings.Join(progress, "\n"))
		methods[ep.Details["migration"]]++
		if err := s.Finalize(ctx, sdk.FinalizeRequest{Service: "web", Settings: settings, Shared: shared, Endpoint: ep}); err != nil {
			b.Fatal(err)
		}
		// LXD's start operation on the new host ends about a second after
		// the proxy listens; the next move starts from there.
		time.Sleep(1500 * time.Millisecond)
		from, to = to, from
	}
	b.Logf("unreachable windows %v; prepare %v; methods %v", windows, prep, methods)
	b.ReportMetric(strategytest.MS(strategytest.Median(windows)), "window-median-ms")
	b.ReportMetric(strategytest.MS(slices.Max(windows)), "window-max-ms")
	b.ReportMetric(strategytest.MS(strategytest.Median(prep)), "prepare-median-ms")
}

// firstAfter returns when the first expected answer after t arrived.
func (p *prober) firstAfter(t time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first time.Time
	for _, a := range p.answers {
		if a.After(t) && (first.IsZero() || a.Before(first)) {
			first = a
		}
	}
	return first, !first.IsZero()
}

// BenchmarkScaleupAbort measures how soon the source serves again when a
// scale-up is undone: the service moves from the standby (127.0.0.2) to the
// bigger VM (127.0.0.3) and its DNS switch "fails", so the receiver calls
// Abort. Abort un-freezes the source, then removes the target copy. A
// prober sends GET / to the source address every 10 ms, each request in its
// own goroutine; one sample is the time from the Abort call until the first
// page from the source.
func BenchmarkScaleupAbort(b *testing.B) {
	pr := startPair(b)
	port := testenv.FreePort(b)
	pr.standby.LaunchService(b, "web", port)
	s := sdktest.GRPC(b, &Strategy{})
	ctx := context.Background()
	settings := json.RawMessage(`{"source":"standby","target":"bigvm","proxy_device":"web","sample_interval":"100ms"}`)
	source := fmt.Sprintf("127.0.0.2:%d", port)

	var serving, aborts []time.Duration
	for i := range strategytest.Samples(b) {
		req := sdk.PrepareRequest{IncidentID: fmt.Sprintf("bench-%d", i), Service: "web", Reason: "VCRStandbyOverloaded", Settings: settings, Shared: pr.shared}
		ep, err := s.Prepare(ctx, req, nil)
		if err != nil {
			b.Fatal(err)
		}
		if ep.Details["moved"] != "web" {
			b.Fatalf("web did not move: %v", ep.Details)
		}
		p := startProber([]string{source}, "web\n")
		start := time.Now()
		err = s.Abort(ctx, sdk.AbortRequest{IncidentID: req.IncidentID, Service: "web", Reason: "DNS switch failed",
			Settings: settings, Shared: pr.shared, Endpoint: ep})
		aborted := time.Since(start)
		if err != nil {
			p.gap()
			b.Fatal(err)
		}
		var first time.Time
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			var ok bool
			if first, ok = p.firstAfter(start); ok {
				break
			}
			if time.Now().After(deadline) {
				p.gap()
				b.Fatalf("%s did not serve within 10s of Abort", source)
			}
		}
		p.gap()
		serving = append(serving, first.Sub(start))
		aborts = append(aborts, aborted)
		fmt.Fprintf(os.Stderr, "abort %d: source serves after %s (Abort returned after %s)\n", i, first.Sub(start).Round(time.Millisecond), aborted.Round(time.Millisecond))
	}
	b.Logf("source serving again after Abort: %v; Abort call %v", serving, aborts)
	b.ReportMetric(strategytest.MS(strategytest.Median(serving)), "serving-median-ms")
	b.ReportMetric(strategytest.MS(slices.Max(serving)), "serving-max-ms")
	b.ReportMetric(strategytest.MS(strategytest.Median(aborts)), "abort-median-ms")
}
