package exporter

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/lxd"
)

// fakeLXD is an LXD API over a unix socket: GET /1.0, /1.0/resources,
// /1.0/instances (recursion 1 or 2) and /1.0/instances/{name}/state.
type fakeLXD struct {
	socket string
	srv    *httptest.Server

	mu         sync.Mutex
	extensions []string
	instances  []lxdFakeInstance
	cpus       int
	down       bool           // answer every call with 500
	calls      map[string]int // "METHOD /path?query"
}

type lxdFakeInstance struct {
	name     string
	running  bool
	cpuNS    int64
	memBytes int64
}

func newFakeLXD(t testing.TB) *fakeLXD {
	t.Helper()
	f := &fakeLXD{extensions: []string{"container_full", "resources"}, cpus: 4, calls: map[string]int{},
		instances: []lxdFakeInstance{
			{name: "web", running: true, cpuNS: 12_500_000_000, memBytes: 64 << 20},
			{name: "db", running: false},
			{name: "cache", running: true, cpuNS: 1_000_000, memBytes: 8 << 20},
		}}
	// Unix socket paths are limited to 108 bytes; t.TempDir() can be longer.
	dir, err := os.MkdirTemp("", "fakelxd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f.socket = filepath.Join(dir, "unix.socket")
	l, err := net.Listen("unix", f.socket)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.Listener.Close()
	f.srv.Listener = l
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeLXD) set(fn func(f *fakeLXD)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeLXD) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

func (f *fakeLXD) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		key += "?" + r.URL.RawQuery
	}
	f.calls[key]++
	reply := func(code int, meta any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		if code != 200 {
			json.NewEncoder(w).Encode(map[string]any{"type": "error", "error": "fake failure", "error_code": code})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"type": "sync", "status": "Success", "status_code": 200, "metadata": meta})
	}
	if f.down && r.URL.Path != "/1.0" {
		reply(500, nil)
		return
	}
	state := func(in lxdFakeInstance) map[string]any {
		st := map[string]any{"status": "Stopped", "status_code": 102, "cpu": map[string]any{"usage": 0},
			"memory": map[string]any{"usage": 0}}
		if in.running {
			st = map[string]any{"status": "Running", "status_code": 103, "pid": 42, "processes": 2,
				"cpu": map[string]any{"usage": in.cpuNS}, "memory": map[string]any{"usage": in.memBytes, "usage_peak": in.memBytes * 2}}
		}
		return st
	}
	instance := func(in lxdFakeInstance, full bool) map[string]any {
		st := state(in)
		m := map[string]any{"name": in.name, "type": "container", "status": st["status"], "status_code": st["status_code"]}
		if full {
			m["state"] = st
		}
		return m
	}
	switch {
	case r.URL.Path == "/1.0":
		reply(200, map[string]any{"api_extensions": f.extensions, "api_version": "1.0", "auth": "trusted",
			"environment": map[string]any{"server_name": "fake", "server_version": "5.0.2"}})
	case r.URL.Path == "/1.0/resources":
		reply(200, map[string]any{"cpu": map[string]any{"architecture": "x86_64", "total": f.cpus},
			"memory": map[string]any{"used": 1 << 30, "total": 8 << 30}})
	case r.URL.Path == "/1.0/instances":
		full := r.URL.Query().Get("recursion") == "2"
		var out []any
		for _, in := range f.instances {
			out = append(out, instance(in, full))
		}
		reply(200, out)
	case strings.HasPrefix(r.URL.Path, "/1.0/instances/") && strings.HasSuffix(r.URL.Path, "/state"):
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/1.0/instances/"), "/state")
		for _, in := range f.instances {
			if in.name == name {
				reply(200, state(in))
				return
			}
		}
		reply(404, nil)
	default:
		reply(404, nil)
	}
}

func newTestLXDCollector(t *testing.T, f *fakeLXD) *lxdCollector {
	t.Helper()
	c, err := newLXDCollector(LXDOptions{Config: lxd.Config{Socket: f.socket}}, "hv9", "tokyo", 5*time.Second, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// One scrape: running instances with CPU (ns → s) and memory, the stopped one
// only as not running, and the capacity from /1.0/resources.
func TestLXDCollectorGolden(t *testing.T) {
	f := newFakeLXD(t)
	c := newTestLXDCollector(t, f)
	compareGolden(t, &collectorAdapter{c: c, timeout: 5 * time.Second}, "lxd.golden")
	if n := f.count("GET /1.0/instances?recursion=2"); n == 0 {
		t.Errorf("collector did not use recursion=2; calls %v", f.calls)
	}
	for k := range f.calls {
		if strings.HasSuffix(k, "/state") {
			t.Errorf("recursion=2 daemon got a per-instance state call %s", k)
		}
	}
}

// A daemon without container_full gets one list and one state call per
// running instance, and the same metrics.
func TestLXDCollectorWithoutRecursion2(t *testing.T) {
	f := newFakeLXD(t)
	f.set(func(f *fakeLXD) { f.extensions = []string{"resources"} })
	c := newTestLXDCollector(t, f)
	compareGolden(t, &collectorAdapter{c: c, timeout: 5 * time.Second}, "lxd.golden")
	lists := f.count("GET /1.0/instances?recursion=1")
	if lists == 0 || f.count("GET /1.0/instances/web/state") != lists || f.count("GET /1.0/instances/cache/state") != lists ||
		f.count("GET /1.0/instances/db/state") != 0 {
		t.Errorf("want one state call per running instance, got %v", f.calls)
	}
}

// Without the resources API, the capacity is the exporter's own CPU count and
// no memory capacity is invented.
func TestLXDCollectorCapacityFallback(t *testing.T) {
	f := newFakeLXD(t)
	f.set(func(f *fakeLXD) { f.extensions = []string{"container_full"} })
	c := newTestLXDCollector(t, f)
	c.numCPU = func() int { return 3 }
	reg := newTestRegistry(t, c)
	s := gatherSamples(t, reg)
	if v, ok := s.get("vcr_lxd_cpus", map[string]string{"role": "standby"}); !ok || v != 3 {
		t.Errorf("vcr_lxd_cpus = %v %v, want 3 from numCPU", v, ok)
	}
	if _, ok := s.get("vcr_lxd_memory_bytes", nil); ok {
		t.Error("vcr_lxd_memory_bytes exported without the resources API")
	}
	if n := f.count("GET /1.0/resources"); n != 0 {
		t.Errorf("%d calls to /1.0/resources on a daemon that lacks it", n)
	}
}

// --lxd.cpus replaces the CPU count of /1.0/resources; the memory still
// comes from there.
func TestLXDCollectorCPUsOverride(t *testing.T) {
	f := newFakeLXD(t)
	c, err := newLXDCollector(LXDOptions{Config: lxd.Config{Socket: f.socket}, CPUs: 1.5}, "hv9", "tokyo", 5*time.Second, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	s := gatherSamples(t, newTestRegistry(t, c))
	if v, _ := s.get("vcr_lxd_cpus", nil); v != 1.5 {
		t.Errorf("vcr_lxd_cpus = %v, want the override 1.5 (the daemon says 4)", v)
	}
	if v, _ := s.get("vcr_lxd_memory_bytes", nil); v != 8<<30 {
		t.Errorf("vcr_lxd_memory_bytes = %v, want 8 GiB from /1.0/resources", v)
	}
	if _, err := newLXDCollector(LXDOptions{Config: lxd.Config{Socket: f.socket}, CPUs: -1}, "h", "c", time.Second, discardLogger()); err == nil {
		t.Error("negative --lxd.cpus accepted")
	}
}

// The capacity is read once per lxdResourcesTTL, not on every scrape, and a
// failed refresh keeps the last value.
func TestLXDCollectorCachesResources(t *testing.T) {
	f := newFakeLXD(t)
	c := newTestLXDCollector(t, f)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c.now = func() time.Time { return now }
	reg := newTestRegistry(t, c)
	for range 3 {
		gatherSamples(t, reg)
	}
	if n := f.count("GET /1.0/resources"); n != 1 {
		t.Errorf("/1.0/resources called %d times in 3 scrapes within the TTL, want 1", n)
	}
	f.set(func(f *fakeLXD) { f.cpus = 8 })
	now = now.Add(lxdResourcesTTL + time.Second)
	if v, _ := gatherSamples(t, reg).get("vcr_lxd_cpus", nil); v != 8 {
		t.Errorf("after the TTL vcr_lxd_cpus = %v, want the new 8", v)
	}
}

// A failing daemon costs only the LXD collector: vcr_lxd_up 0, success 0,
// and the libvirt collector's metrics are still served.
func TestLXDCollectorFailureKeepsOtherCollectors(t *testing.T) {
	f := newFakeLXD(t)
	fake := newFakeClient(sampleRecords()...)
	exp, err := New(Options{
		Dial: func(context.Context) (Client, error) { return fake, nil },
		Host: "hv9", Cloud: "tokyo", Logger: discardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.AddLXD(LXDOptions{Config: lxd.Config{Socket: f.socket}}); err != nil {
		t.Fatal(err)
	}
	exp.sup.set(fake)
	h, err := exp.Handler("/metrics", "test")
	if err != nil {
		t.Fatal(err)
	}
	scrape := func() samples {
		code, body := get(t, h, "/metrics")
		if code != 200 {
			t.Fatalf("/metrics = %d: %s", code, body)
		}
		return parseMetrics(t, strings.NewReader(body))
	}
	s := scrape()
	if v, _ := s.get("vcr_scrape_collector_success", map[string]string{"collector": "lxd"}); v != 1 {
		t.Errorf("lxd collector success = %v with a healthy daemon", v)
	}
	if v, _ := s.get("vcr_lxd_instance_cpu_seconds_total", map[string]string{"name": "web", "role": "standby", "host": "hv9", "cloud": "tokyo"}); v != 12.5 {
		t.Errorf("web cpu = %v, want 12.5", v)
	}

	f.set(func(f *fakeLXD) { f.down = true })
	s = scrape()
	if v, ok := s.get("vcr_lxd_up", map[string]string{"role": "standby"}); !ok || v != 0 {
		t.Errorf("vcr_lxd_up = %v %v while the daemon fails, want 0", v, ok)
	}
	if v, _ := s.get("vcr_scrape_collector_success", map[string]string{"collector": "lxd"}); v != 0 {
		t.Errorf("lxd collector success = %v while the daemon fails, want 0", v)
	}
	if _, ok := s.get("vcr_lxd_instance_cpu_seconds_total", nil); ok {
		t.Error("instance series exported from a failed scrape")
	}
	if v, _ := s.get("vcr_libvirt_up", nil); v != 1 {
		t.Errorf("vcr_libvirt_up = %v: an LXD failure emptied the libvirt collector", v)
	}
	if v, _ := s.get("vcr_scrape_collector_success", map[string]string{"collector": "libvirt"}); v != 1 {
		t.Errorf("libvirt collector success = %v", v)
	}

	f.set(func(f *fakeLXD) { f.down = false })
	if v, _ := scrape().get("vcr_lxd_up", nil); v != 1 {
		t.Errorf("vcr_lxd_up = %v after the daemon recovered, want 1", v)
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
	c, err := newLXDCollector(LXDOptions{Config: lxd.Config{Socket: filepath.Join(dir, "unix.socket")}}, "hv9", "tokyo", time.Second, discardLogger())
	if err != nil {
		t.Fatalf("missing socket failed at start-up: %v", err)
	}
	a := &collectorAdapter{c: c, timeout: time.Second}
	// Not pedantic: the first Describe-by-collect sees only vcr_lxd_up.
	reg := prometheus.NewRegistry()
	reg.MustRegister(a)
	if v, _ := gatherSamples(t, reg).get("vcr_lxd_up", nil); v != 0 || a.err == nil {
		t.Errorf("vcr_lxd_up = %v, err %v with no daemon; want 0 and an error", v, a.err)
	}
	f := newFakeLXD(t)
	c.cfg.Socket = f.socket
	if v, _ := gatherSamples(t, reg).get("vcr_lxd_up", nil); v != 1 || a.err != nil {
		t.Errorf("vcr_lxd_up = %v, err %v once the daemon answers; want 1", v, a.err)
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
		if _, err := newLXDCollector(LXDOptions{Config: cfg}, "h", "c", time.Second, discardLogger()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// newTestRegistry returns a registry holding c (if non-nil) alone.
func newTestRegistry(t *testing.T, c Collector) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if c != nil {
		reg.MustRegister(&collectorAdapter{c: c, timeout: 5 * time.Second})
	}
	return reg
}

// gatherSamples gathers reg as a scrape would see it.
func gatherSamples(t *testing.T, reg *prometheus.Registry) samples {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	s := samples{}
	for _, mf := range mfs {
		s[mf.GetName()] = mf
	}
	return s
}

// BenchmarkLXDCollector is one scrape of the LXD collector over a socket,
// with 50 running containers and the capacity cached.
func BenchmarkLXDCollector(b *testing.B) {
	f := newFakeLXD(b)
	f.set(func(f *fakeLXD) {
		f.instances = nil
		for i := range 50 {
			f.instances = append(f.instances, lxdFakeInstance{name: "svc" + strconv.Itoa(i), running: true, cpuNS: int64(i) * 1e9, memBytes: 1 << 20})
		}
	})
	c, err := newLXDCollector(LXDOptions{Config: lxd.Config{Socket: f.socket}}, "hv9", "tokyo", 5*time.Second, discardLogger())
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
