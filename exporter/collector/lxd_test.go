package collector

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
	"github.com/vcrcovery/vcrcovery/lxd"
)

func newTestLXDCollector(t *testing.T, f *exportertest.FakeLXD) *lxdCollector {
	t.Helper()
	c, err := newLXDCollector(LXDOptions{Config: lxd.Config{Socket: f.Socket}}, "hv9", "tokyo", 5*time.Second, exportertest.DiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// One scrape: running instances with CPU (ns → s) and memory, the stopped one
// only as not running, and the capacity from /1.0/resources.
func TestLXDCollectorGolden(t *testing.T) {
	f := exportertest.NewFakeLXD(t)
	c := newTestLXDCollector(t, f)
	compareGolden(t, &exportertest.CollectorAdapter{C: c, Timeout: 5 * time.Second}, "lxd.golden")
	if n := f.Count("GET /1.0/instances?recursion=2"); n == 0 {
		t.Errorf("collector did not use recursion=2; calls %v", f.Calls())
	}
	for k := range f.Calls() {
		if strings.HasSuffix(k, "/state") {
			t.Errorf("recursion=2 daemon got a per-instance state call %s", k)
		}
	}
}

// A daemon without container_full gets one list and one state call per
// running instance, and the same metrics.
func TestLXDCollectorWithoutRecursion2(t *testing.T) {
	f := exportertest.NewFakeLXD(t)
	f.Set(func(f *exportertest.FakeLXD) { f.Extensions = []string{"resources"} })
	c := newTestLXDCollector(t, f)
	compareGolden(t, &exportertest.CollectorAdapter{C: c, Timeout: 5 * time.Second}, "lxd.golden")
	lists := f.Count("GET /1.0/instances?recursion=1")
	if lists == 0 || f.Count("GET /1.0/instances/web/state") != lists || f.Count("GET /1.0/instances/cache/state") != lists ||
		f.Count("GET /1.0/instances/db/state") != 0 {
		t.Errorf("want one state call per running instance, got %v", f.Calls())
	}
}

// Without the resources API, the capacity is the exporter's own CPU count and
// no memory capacity is invented.
func TestLXDCollectorCapacityFallback(t *testing.T) {
	f := exportertest.NewFakeLXD(t)
	f.Set(func(f *exportertest.FakeLXD) { f.Extensions = []string{"container_full"} })
	c := newTestLXDCollector(t, f)
	c.numCPU = func() int { return 3 }
	reg := newTestRegistry(t, c)
	s := exportertest.Gather(t, reg)
	if v, ok := s.Get("vcr_lxd_cpus", map[string]string{"role": "standby"}); !ok || v != 3 {
		t.Errorf("vcr_lxd_cpus = %v %v, want 3 from numCPU", v, ok)
	}
	if _, ok := s.Get("vcr_lxd_memory_bytes", nil); ok {
		t.Error("vcr_lxd_memory_bytes exported without the resources API")
	}
	if n := f.Count("GET /1.0/resources"); n != 0 {
		t.Errorf("%d calls to /1.0/resources on a daemon that lacks it", n)
	}
}

// --lxd.cpus replaces the CPU count of /1.0/resources; the memory still
// comes from there.
func TestLXDCollectorCPUsOverride(t *testing.T) {
	f := exportertest.NewFakeLXD(t)
	c, err := newLXDCollector(LXDOptions{Config: lxd.Config{Socket: f.Socket}, CPUs: 1.5}, "hv9", "tokyo", 5*time.Second, exportertest.DiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	s := exportertest.Gather(t, newTestRegistry(t, c))
	if v, _ := s.Get("vcr_lxd_cpus", nil); v != 1.5 {
		t.Errorf("vcr_lxd_cpus = %v, want the override 1.5 (the daemon says 4)", v)
	}
	if v, _ := s.Get("vcr_lxd_memory_bytes", nil); v != 8<<30 {
		t.Errorf("vcr_lxd_memory_bytes = %v, want 8 GiB from /1.0/resources", v)
	}
	if _, err := newLXDCollector(LXDOptions{Config: lxd.Config{Socket: f.Socket}, CPUs: -1}, "h", "c", time.Second, exportertest.DiscardLogger()); err == nil {
		t.Error("negative --lxd.cpus accepted")
	}
}

// The capacity is read once per lxdResourcesTTL, not on every scrape, and a
// failed refresh keeps the last value.
func TestLXDCollectorCachesResources(t *testing.T) {
	f := exportertest.NewFakeLXD(t)
	c := newTestLXDCollector(t, f)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c.now = func() time.Time { return now }
	reg := newTestRegistry(t, c)
	for range 3 {
		exportertest.Gather(t, reg)
	}
	if n := f.Count("GET /1.0/resources"); n != 1 {
		t.Errorf("/1.0/resources called %d times in 3 scrapes within the TTL, want 1", n)
	}
	f.Set(func(f *exportertest.FakeLXD) { f.CPUs = 8 })
	now = now.Add(lxdResourcesTTL + time.Second)
	if v, _ := exportertest.Gather(t, reg).Get("vcr_lxd_cpus", nil); v != 8 {
		t.Errorf("after the TTL vcr_lxd_cpus = %v, want the new 8", v)
	}
}

// The daemon may start after the exporter: no socket yet is vcr_lxd_up 0,
// not a start-up failure, and the first scrape after it appears connects.
func TestLXDCollectorConnectsLazily(t *testing.T) {
	dir, err := os.MkdirTemp("", "lazylxd")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := newLXDCollector(LXDOptions{Config: lxd.Config{Socket: filepath.Join(dir, "unix.socket")}}, "hv9", "tokyo", time.Second, exportertest.DiscardLogger())
	if err != nil {
		t.Fatalf("missing socket failed at start-up: %v", err)
	}
	a := &exportertest.CollectorAdapter{C: c, Timeout: time.Second}
	// Not pedantic: the first Describe-by-collect sees only vcr_lxd_up.
	reg := prometheus.NewRegistry()
	reg.MustRegister(a)
	if v, _ := exportertest.Gather(t, reg).Get("vcr_lxd_up", nil); v != 0 || a.Err == nil {
		t.Errorf("vcr_lxd_up = %v, err %v with no daemon; want 0 and an error", v, a.Err)
	}
	f := exportertest.NewFakeLXD(t)
	c.cfg.Socket = f.Socket
	if v, _ := exportertest.Gather(t, reg).Get("vcr_lxd_up", nil); v != 1 || a.Err != nil {
		t.Errorf("vcr_lxd_up = %v, err %v once the daemon answers; want 1", v, a.Err)
	}
}

func TestNewLXDCollectorRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	for name, cfg := range map[string]lxd.Config{
		"neither":            {},
		"both":               {Socket: "/x", URL: "https://127.0.0.1:8443"},
		"url, no certs":      {URL: "https://127.0.0.1:8443"},
		"url, bad certs":     {URL: "https://127.0.0.1:8443", ClientCert: filepath.Join(dir, "c"), ClientKey: filepath.Join(dir, "k"), ServerCert: filepath.Join(dir, "s")},
		"url, no servercert": {URL: "https://127.0.0.1:8443", ClientCert: "c", ClientKey: "k"},
	} {
		if _, err := newLXDCollector(LXDOptions{Config: cfg}, "h", "c", time.Second, exportertest.DiscardLogger()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// newTestRegistry returns a registry holding c (if non-nil) alone.
func newTestRegistry(t *testing.T, c Collector) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if c != nil {
		reg.MustRegister(&exportertest.CollectorAdapter{C: c, Timeout: 5 * time.Second})
	}
	return reg
}

// BenchmarkLXDCollector is one scrape of the LXD collector over a socket,
// with 50 running containers and the capacity cached.
func BenchmarkLXDCollector(b *testing.B) {
	f := exportertest.NewFakeLXD(b)
	f.Set(func(f *exportertest.FakeLXD) {
		f.Instances = nil
		for i := range 50 {
			f.Instances = append(f.Instances, exportertest.FakeLXDInstance{Name: "svc" + strconv.Itoa(i), Running: true, CPUNS: int64(i) * 1e9, MemBytes: 1 << 20})
		}
	})
	c, err := newLXDCollector(LXDOptions{Config: lxd.Config{Socket: f.Socket}}, "hv9", "tokyo", 5*time.Second, exportertest.DiscardLogger())
	if err != nil {
		b.Fatal(err)
	}
	ch := make(chan prometheus.Metric, 1024)
	go func() {
		for range ch {
		}
	}()
	defer close(ch)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Update(context.Background(), ch); err != nil {
			b.Fatal(err)
		}
	}
}
