package exportertest

import (
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// FakeLXD is an LXD API over a unix socket: GET /1.0, /1.0/resources,
// /1.0/instances (recursion 1 or 2) and /1.0/instances/{name}/state.
type FakeLXD struct {
	Socket string

	mu sync.Mutex
	// The fields below are read under mu: change them with Set.
	Extensions []string
	Instances  []FakeLXDInstance
	CPUs       int
	Down       bool           // answer every call but GET /1.0 with 500
	calls      map[string]int // "METHOD /path?query"
}

// FakeLXDInstance is one instance of a FakeLXD.
type FakeLXDInstance struct {
	Name     string
	Running  bool
	CPUNS    int64
	MemBytes int64
}

// NewFakeLXD serves web (running), db (stopped) and cache (running) on a 4-CPU
// host with the container_full and resources extensions, until t ends.
func NewFakeLXD(t testing.TB) *FakeLXD {
	t.Helper()
	f := &FakeLXD{Extensions: []string{"container_full", "resources"}, CPUs: 4, calls: map[string]int{},
		Instances: []FakeLXDInstance{
			{Name: "web", Running: true, CPUNS: 12_500_000_000, MemBytes: 64 << 20},
			{Name: "db", Running: false},
			{Name: "cache", Running: true, CPUNS: 1_000_000, MemBytes: 8 << 20},
		}}
	// Unix socket paths are limited to 108 bytes; t.TempDir() can be longer.
	dir, err := os.MkdirTemp("", "fakelxd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f.Socket = filepath.Join(dir, "unix.socket")
	l, err := net.Listen("unix", f.Socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return f
}

// Set changes the daemon under its lock.
func (f *FakeLXD) Set(fn func(f *FakeLXD)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// Count is how often key ("GET /1.0/resources") was called.
func (f *FakeLXD) Count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

// Calls returns every call so far with its count.
func (f *FakeLXD) Calls() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.calls)
}

func (f *FakeLXD) serve(w http.ResponseWriter, r *http.Request) {
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
	if f.Down && r.URL.Path != "/1.0" {
		reply(500, nil)
		return
	}
	state := func(in FakeLXDInstance) map[string]any {
		st := map[string]any{"status": "Stopped", "status_code": 102, "cpu": map[string]any{"usage": 0},
			"memory": map[string]any{"usage": 0}}
		if in.Running {
			st = map[string]any{"status": "Running", "status_code": 103, "pid": 42, "processes": 2,
				"cpu": map[string]any{"usage": in.CPUNS}, "memory": map[string]any{"usage": in.MemBytes, "usage_peak": in.MemBytes * 2}}
		}
		return st
	}
	instance := func(in FakeLXDInstance, full bool) map[string]any {
		st := state(in)
		m := map[string]any{"name": in.Name, "type": "container", "status": st["status"], "status_code": st["status_code"]}
		if full {
			m["state"] = st
		}
		return m
	}
	switch {
	case r.URL.Path == "/1.0":
		reply(200, map[string]any{"api_extensions": f.Extensions, "api_version": "1.0", "auth": "trusted",
			"environment": map[string]any{"server_name": "fake", "server_version": "5.0.2"}})
	case r.URL.Path == "/1.0/resources":
		reply(200, map[string]any{"cpu": map[string]any{"architecture": "x86_64", "total": f.CPUs},
			"memory": map[string]any{"used": 1 << 30, "total": 8 << 30}})
	case r.URL.Path == "/1.0/instances":
		full := r.URL.Query().Get("recursion") == "2"
		var out []any
		for _, in := range f.Instances {
			out = append(out, instance(in, full))
		}
		reply(200, out)
	case strings.HasPrefix(r.URL.Path, "/1.0/instances/") && strings.HasSuffix(r.URL.Path, "/state"):
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/1.0/instances/"), "/state")
		for _, in := range f.Instances {
			if in.Name == name {
				reply(200, state(in))
				return
			}
		}
		reply(404, nil)
	default:
		reply(404, nil)
	}
}
