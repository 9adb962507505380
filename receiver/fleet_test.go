package receiver

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// fleetConfig is a config of n services whose primaries all run on host
// hv1 of cloud c1, every one recovered by the warm strategy on the standby
// remote: one VCRHostHeartbeatLost{host="hv1"} (or VCRCloudDown) names them
// all. Services are svc000, svc001, ...; with priorityEvery > 0 every
// priorityEvery-th service has priority 10.
func fleetConfig(n, priorityEvery int) string {
	var b strings.Builder
	b.WriteString(`
pipeline: {max_attempts: 3, backoff: 10ms, max_backoff: 40ms}
dns_servers:
  - {name: main, address: "127.0.0.1:5353", key_name: k., secret_file: /dev/null}
services:
`)
	for i := range n {
		prio := 0
		if priorityEvery > 0 && i%priorityEvery == 0 {
			prio = 10
		}
		fmt.Fprintf(&b, `  - name: svc%03d
    primary: {domain: dom%03d, host: {name: hv1, cloud: c1, socket: /x}, address: 127.0.1.%d, port: 80}
    strategy: {name: warm, settings: {remote: standby}}
    dns: {name: svc%03d.example.test., zone: example.test.}
    fencing: {grace_period: 0s}
    priority: %d
`, i, i, i%250+1, i, prio)
	}
	return b.String()
}

// TestMassFailoverPriorityAndLimit: one host down with 40 services, one
// prepare at a time on the standby: never more than one runs, the
// priority services go first, and every service is recovered once.
func TestMassFailoverPriorityAndLimit(t *testing.T) {
	h := newHarness(t, strings.Replace(fleetConfig(40, 10), "pipeline: {", "pipeline: {max_concurrent_prepares: 1, ", 1))
	h.strat.delay = 2 * time.Millisecond
	code, body := h.post(payload("firing", map[string]string{"alertname": "VCRHostHeartbeatLost", "host": "hv1", "_fp": "hb"}))
	if code != 200 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for h.dns.count() < 40 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	h.r.Wait()
	h.strat.mu.Lock()
	order, peak := slices.Clone(h.strat.services), h.strat.peak
	h.strat.mu.Unlock()
	if len(order) != 40 || h.dns.count() != 40 {
		t.Fatalf("%d prepares and %d switches, want 40 each", len(order), h.dns.count())
	}
	if peak != 1 {
		t.Fatalf("%d prepares ran at once on the standby, want 1 (pipeline.max_concurrent_prepares)", peak)
	}
	// The first prepare may start before the others queue; after it, the
	// four priority services (svc000, svc010, svc020, svc030) come first.
	var vip []int
	for i, s := range order {
		if s == "svc000" || s == "svc010" || s == "svc020" || s == "svc030" {
			vip = append(vip, i)
		}
	}
	if vip[len(vip)-1] > 4 {
		t.Fatalf("priority services prepared at positions %v of %v; want them among the first five", vip, order)
	}
	events := api.MassEvents(h.incidents())
	if len(events) != 1 || len(events[0].Incidents) != 40 || events[0].States[api.StateResolved] != 40 || events[0].Scope != "host hv1" {
		t.Fatalf("mass events = %+v, want one of 40 resolved incidents on host hv1", events)
	}
}

// BenchmarkHostDown measures one host failure naming n services, end to
// end through the receiver: one VCRHostHeartbeatLost delivery through the
// real HTTP handler and the durable bbolt journal (fsync), fakes for
// fencing, strategies (answering at once), the probe and DNS. It reports
// the time from the delivery to the first and the last DNS switch. Run it
// with -cpuprofile, -mutexprofile and -blockprofile to see where a mass
// failover spends its time.
func BenchmarkHostDown(b *testing.B) {
	for _, n := range []int{50, 200, 500} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			var first, last []time.Duration
			for range b.N {
				f, l := hostDown(b, n)
				first, last = append(first, f), append(last, l)
			}
			b.ReportMetric(median(first).Seconds(), "first-switch-s")
			b.ReportMetric(median(last).Seconds(), "last-switch-s")
		})
	}
}

// hostDown runs one host failure of n services on a fresh receiver and
// returns the delivery's times to the first and the last switch.
func hostDown(b *testing.B, n int) (first, last time.Duration) {
	b.StopTimer()
	h := newHarness(b, fleetConfig(n, 0))
	body := payload("firing", map[string]string{"alertname": "VCRHostHeartbeatLost", "host": "hv1", "_fp": "hb"})
	b.StartTimer()
	start := time.Now()
	if code, resp := h.post(body); code != 200 {
		b.Fatalf("webhook: %d %s", code, resp)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for h.dns.count() < n {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d services switched after 2 minutes", h.dns.count(), n)
		}
		time.Sleep(time.Millisecond)
	}
	h.r.Wait()
	b.StopTimer()
	h.dns.mu.Lock()
	first, last = h.dns.switched[0].Sub(start), h.dns.switched[len(h.dns.switched)-1].Sub(start)
	h.dns.mu.Unlock()
	h.stop()
	return first, last
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
