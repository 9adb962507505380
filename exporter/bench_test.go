package exporter

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/exporter/failure"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// procKiB reads a "VmRSS"/"VmHWM" line of /proc/<pid>/status.
func procKiB(b *testing.B, pid int, field string) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// defineMany defines and starts n test-driver domains over conn and
// removes them at cleanup.
func defineMany(b *testing.B, conn *libvirt.Libvirt, n int) {
	b.Helper()
	var r [3]byte
	_, _ = rand.Read(r[:])
	prefix := "vcrbench-" + hex.EncodeToString(r[:])
	doms := make([]libvirt.Domain, 0, n)
	b.Cleanup(func() {
		for _, d := range doms {
			_ = conn.DomainDestroy(d)
			_ = conn.DomainUndefine(d)
		}
	})
	for i := 0; i < n; i++ {
		xml := fmt.Sprintf(`<domain type='test'><name>%s-%05d</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`, prefix, i)
		d, err := conn.DomainDefineXML(xml)
		if err != nil {
			b.Fatalf("define domain %d: %v", i, err)
		}
		doms = append(doms, d)
		if err := conn.DomainCreate(d); err != nil {
			b.Fatalf("start domain %d: %v", i, err)
		}
	}
}

// BenchmarkScrape measures a full /metrics scrape of the vcr-exporter
// binary and its memory with 100, 1,000 and 5,000 test-driver domains
// (goal at 1,000: median <= 50 ms, RSS <= 60 MB).
func BenchmarkScrape(b *testing.B) {
	lv := testenv.Libvirt(b)
	td := lv.TestDriver(b)
	defined := 0
	for _, n := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("domains=%d", n), func(b *testing.B) {
			// Domains accumulate across sub-benchmarks; the test driver's
			// predefined "test" domain and other tests' domains come on top.
			defineMany(b, td.Conn(), n-defined)
			defined = n
			addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b))
			p := testenv.StartDaemon(b, testenv.DaemonSpec{Name: "vcr-exporter-bench", Path: testenv.Binary(b, "vcr-exporter"),
				Args: []string{"--web.listen-address", addr, "--libvirt.uri", td.URI, "--libvirt.socket", lv.Socket,
					"--host", "bench", "--scrape.timeout", "60s", "--log.level", "warn"},
				Ready: func() error { return testenv.HTTPOK("http://" + addr + "/-/ready") }})
			scrapes := max(15, b.N)
			lat := make([]time.Duration, 0, scrapes)
			var size int
			b.ResetTimer()
			for i := 0; i < scrapes; i++ {
				start := time.Now()
				resp, err := http.Get("http://" + addr + "/metrics")
				if err != nil {
					b.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("scrape: %v %s", err, resp.Status)
				}
				lat = append(lat, time.Since(start))
				size = len(body)
				if i == 0 && !strings.Contains(string(body), "vcr_libvirt_up{cloud=\"\",host=\"bench\"} 1") {
					b.Fatalf("libvirt not up in the exporter:\n%s", p.Tail(20))
				}
			}
			b.StopTimer()
			b.ReportMetric(ms(median(lat)), "ms/scrape-median")
			b.ReportMetric(procKiB(b, p.PID, "VmRSS")/1024, "MB-RSS")
			b.ReportMetric(procKiB(b, p.PID, "VmHWM")/1024, "MB-RSS-peak")
			b.ReportMetric(float64(size)/1024, "KiB/scrape")
			b.ReportMetric(0, "ns/op") // the per-op figure is meaningless here
		})
	}
}

// BenchmarkEventToAlertmanager measures the fast path end to end: from the
// moment `destroy` returns on a test-driver domain to the alert being
// listed by a real Alertmanager (goal: median <= 20 ms). The listing is
// polled every millisecond, so the figure includes up to ~1 ms of polling.
func BenchmarkEventToAlertmanager(b *testing.B) {
	lv := testenv.Libvirt(b)
	td := lv.TestDriver(b)
	am := testenv.StartAlertmanager(b, testenv.AlertmanagerOptions{})
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b))
	testenv.StartDaemon(b, testenv.DaemonSpec{Name: "vcr-exporter-bench", Path: testenv.Binary(b, "vcr-exporter"),
		Args: []string{"--web.listen-address", addr, "--libvirt.uri", td.URI, "--libvirt.socket", lv.Socket,
			"--host", "bench", "--alertmanager.url", am.URL, "--log.level", "warn"},
		Ready: func() error { return testenv.HTTPOK("http://" + addr + "/-/ready") }})
	_, name := td.DefineNamed(b, "")
	filter := am.URL + "/api/v2/alerts?filter=" + url.QueryEscape(`domain="`+name+`"`) + "&active=true"
	listed := func() bool {
		resp, err := http.Get(filter)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.Contains(string(body), failure.AlertShutoff)
	}
	rounds := max(15, b.N)
	lat := make([]time.Duration, 0, rounds)
	for i := 0; i < rounds; i++ {
		dom, err := td.Conn().DomainLookupByName(name)
		if err != nil {
			b.Fatal(err)
		}
		if err := td.Conn().DomainDestroy(dom); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		deadline := start.Add(10 * time.Second)
		for !listed() {
			if time.Now().After(deadline) {
				b.Fatalf("round %d: no alert in Alertmanager after 10s", i)
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(start))
		// Start it again and wait for the resolve to land before the next round.
		td.Start(b, name)
		deadline = time.Now().Add(10 * time.Second)
		for listed() {
			if time.Now().After(deadline) {
				b.Fatalf("round %d: alert not resolved after 10s", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	b.ReportMetric(ms(median(lat)), "ms/event-to-AM-median")
	b.ReportMetric(0, "ns/op")
}
