package collector

import (
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// The LXD collector against a real LXD 5.0 daemon standing in for the standby
// VM: a busy container's CPU counter grows by about the cores it burns, the
// capacity comes from /1.0/resources, HTTPS with a client certificate works
// like the socket, and a stopped container shows as not running.
func TestIntegrationLXDCollector(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs root and LXD")
	}
	x := testenv.StartLXD(t, testenv.LXDOptions{Name: "standby"})
	x.LaunchService(t, "web", testenv.FreePort(t))

	newCol := func(cfg lxd.Config) *lxdCollector {
		c, err := newLXDCollector(LXDOptions{Config: cfg}, "hv9", "tokyo", 10*time.Second, exportertest.DiscardLogger())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	sock := newTestRegistry(t, newCol(lxd.Config{Socket: x.Socket}))
	web := map[string]string{"name": "web", "role": "standby", "host": "hv9", "cloud": "tokyo"}
	s := exportertest.Gather(t, sock)
	if v, _ := s.Get("vcr_lxd_up", nil); v != 1 {
		t.Fatalf("vcr_lxd_up = %v over the socket", v)
	}
	if v, _ := s.Get("vcr_lxd_instance_running", web); v != 1 {
		t.Errorf("web running = %v, want 1", v)
	}
	if v, _ := s.Get("vcr_lxd_cpus", nil); v < 1 {
		t.Errorf("vcr_lxd_cpus = %v, want the host's CPU count", v)
	}
	if v, _ := s.Get("vcr_lxd_memory_bytes", nil); v < 64<<20 {
		t.Errorf("vcr_lxd_memory_bytes = %v, want the host's memory", v)
	}
	if v, ok := s.Get("vcr_lxd_instance_memory_bytes", web); !ok || v <= 0 {
		t.Errorf("web memory = %v %v, want its cgroup usage", v, ok)
	}
	cpu0, ok := s.Get("vcr_lxd_instance_cpu_seconds_total", web)
	if !ok {
		t.Fatalf("no CPU counter for web: %s", s)
	}

	// The loops must not hold the exec session's stdio, or lxc exec waits for them.
	x.Lxc(t, "exec", "web", "--", "sh", "-c", "for i in 1 2; do (while :; do :; done) </dev/null >/dev/null 2>&1 & done")
	t0 := time.Now()
	time.Sleep(3 * time.Second)
	cpu1, _ := exportertest.Gather(t, sock).Get("vcr_lxd_instance_cpu_seconds_total", web)
	burnt := cpu1 - cpu0
	t.Logf("two busy loops in web: %.2f CPU-seconds in %s", burnt, time.Since(t0).Round(time.Millisecond))
	// Two loops on a 2-core machine shared with other tests got 0.8 to 1.9
	// cores; an idle container spends milliseconds. A third of a core on
	// average tells the two apart with room for a busy machine.
	if burnt < 1 {
		t.Errorf("web's CPU counter grew by %.2f s in 3 s of two busy loops, want ≥ 1", burnt)
	}

	https := exportertest.Gather(t, newTestRegistry(t, newCol(lxd.Config{URL: x.URL, ClientCert: x.ClientCert,
		ClientKey: x.ClientKey, ServerCert: x.ServerCert})))
	if v, _ := https.Get("vcr_lxd_up", nil); v != 1 {
		t.Errorf("vcr_lxd_up = %v over HTTPS", v)
	}
	if v, _ := https.Get("vcr_lxd_instance_cpu_seconds_total", web); v < cpu1 {
		t.Errorf("CPU over HTTPS %v < %v read before over the socket", v, cpu1)
	}

	x.Lxc(t, "stop", "--force", "web")
	s = exportertest.Gather(t, sock)
	if v, ok := s.Get("vcr_lxd_instance_running", web); !ok || v != 0 {
		t.Errorf("web running = %v %v after stop, want 0", v, ok)
	}
	if _, ok := s.Get("vcr_lxd_instance_cpu_seconds_total", web); ok {
		t.Error("stopped web still has a CPU counter (it would read as a reset to 0)")
	}
}
