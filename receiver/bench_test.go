package receiver

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkWebhookIngest measures alerts accepted per second through the
// real HTTP handler with the durable bbolt journal (fsync per batch) in a
// temp dir. Each delivery holds one alert for the failing service, so every
// request also joins the open incident, like a storm of repeats would.
// Whatever b.N is, every iteration posts 2,000 alerts from 32 concurrent
// senders, so `-benchtime 1x` (make bench) still gives a real figure.
func BenchmarkWebhookIngest(b *testing.B) {
	for _, senders := range []int{1, 32} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			benchIngest(b, senders)
		})
	}
}

func benchIngest(b *testing.B, senders int) {
	h := newHarness(b, testConfig)
	h.strat.block = make(chan struct{}) // keep the incident open, no pipeline noise
	defer close(h.strat.block)
	perIter := 2000
	if senders == 1 {
		perIter = 300 // one sender pays a full fsync per alert
	}
	bodies := make([]string, 16)
	for i := range bodies {
		l := map[string]string{"alertname": "VCRDomainShutoff", "domain": "web01", "_fp": fmt.Sprintf("fp%d", i)}
		bodies[i] = payload("firing", l)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}}
	var latencies []time.Duration
	var mu sync.Mutex
	total := 0
	var elapsed time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		var wg sync.WaitGroup
		work := make(chan int, perIter)
		for k := 0; k < perIter; k++ {
			work <- k
		}
		close(work)
		for s := 0; s < senders; s++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var local []time.Duration
				for k := range work {
					t0 := time.Now()
					resp, err := client.Post(h.srv.URL+"/api/v1/alerts", "application/json", strings.NewReader(bodies[k%len(bodies)]))
					if err != nil {
						b.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
					local = append(local, time.Since(t0))
				}
				mu.Lock()
				latencies = append(latencies, local...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		elapsed += time.Since(start)
		total += perIter
	}
	b.StopTimer()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	if len(latencies) > 0 {
		b.ReportMetric(float64(total)/elapsed.Seconds(), "alerts/s")
		b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
	}
	if n := len(h.incidents()); n != 1 {
		b.Fatalf("%d incidents after the benchmark, want 1", n)
	}
}
