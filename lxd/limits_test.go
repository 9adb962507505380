package lxd_test

import (
	"context"
	"net/http"
	"reflect"
	"testing"

	"github.com/vcrcovery/vcrcovery/lxd"
)

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "512MiB", want: 512 << 20},
		{in: "2GB", want: 2e9},
		{in: "1.5GiB", want: 3 << 29},
		{in: "1048576", want: 1 << 20},
		{in: "64 MiB", want: 64 << 20},
		{in: "10B", want: 10},
		{in: "2gb", bad: true},
		{in: "50%", bad: true},
		{in: "MiB", bad: true},
		{in: "-1MiB", bad: true},
	} {
		got, err := lxd.ParseBytes(tc.in)
		if tc.bad != (err != nil) || (!tc.bad && got != tc.want) {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestLimits(t *testing.T) {
	for _, tc := range []struct {
		cpus   float64
		memory int64
		want   map[string]string
	}{
		{2, 512 << 20, map[string]string{"limits.cpu": "2", "limits.memory": "512MiB"}},
		{0.5, 0, map[string]string{"limits.cpu": "1", "limits.cpu.allowance": "50ms/100ms"}},
		{1.5, 1000, map[string]string{"limits.cpu": "2", "limits.cpu.allowance": "150ms/100ms", "limits.memory": "1000"}},
		{0, 0, map[string]string{}},
	} {
		got := lxd.Limits(tc.cpus, tc.memory)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Limits(%v, %d) = %v, want %v", tc.cpus, tc.memory, got, tc.want)
		}
		// What Limits writes, the readers read back.
		inst := &lxd.Instance{Name: "x", Config: got}
		if cpus, ok, err := inst.CPULimit(); err != nil || ok != (tc.cpus > 0) || cpus != tc.cpus {
			t.Errorf("CPULimit of %v = %v, %v, %v; want %v", got, cpus, ok, err, tc.cpus)
		}
		if mem, ok, err := inst.MemoryLimit(1 << 30); err != nil || ok != (tc.memory > 0) || mem != tc.memory {
			t.Errorf("MemoryLimit of %v = %v, %v, %v; want %v", got, mem, ok, err, tc.memory)
		}
	}
}

func TestInstanceLimits(t *testing.T) {
	for _, tc := range []struct {
		config  map[string]string
		cpus    float64
		cpuSet  bool
		memory  int64
		memSet  bool
		wantErr bool
	}{
		{config: map[string]string{}},
		{config: map[string]string{"limits.cpu": "0-1,3", "limits.memory": "25%"}, cpus: 3, cpuSet: true, memory: 1 << 30, memSet: true},
		{config: map[string]string{"limits.cpu": "4", "limits.cpu.allowance": "50%"}, cpus: 4, cpuSet: true},
		{config: map[string]string{"limits.cpu": "3-1"}, wantErr: true},
		{config: map[string]string{"limits.memory": "lots"}, wantErr: true},
	} {
		// Profiles' limits count: the expanded config is read first.
		inst := &lxd.Instance{Name: "x", Config: map[string]string{"limits.cpu": "64"}, ExpandedConfig: tc.config}
		if len(tc.config) == 0 {
			inst.Config = nil
		}
		cpus, cok, cerr := inst.CPULimit()
		mem, mok, merr := inst.MemoryLimit(4 << 30)
		if tc.wantErr {
			if cerr == nil && merr == nil {
				t.Errorf("%v: no error", tc.config)
			}
			continue
		}
		if cerr != nil || merr != nil || cpus != tc.cpus || cok != tc.cpuSet || mem != tc.memory || mok != tc.memSet {
			t.Errorf("%v: cpus %v %v %v, memory %v %v %v", tc.config, cpus, cok, cerr, mem, mok, merr)
		}
	}
}

func TestGetResources(t *testing.T) {
	f := newFake(t)
	f.route("GET /1.0/resources", func(w http.ResponseWriter, r *http.Request) {
		sync200(w, map[string]any{
			"cpu":    map[string]any{"architecture": "x86_64", "total": 8, "sockets": []any{}},
			"memory": map[string]any{"total": 16 << 30, "used": 3 << 30, "hugepages_total": 0},
		})
	})
	c := f.startUnix()
	res, err := c.GetResources(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.CPU.Total != 8 || res.Memory.Total != 16<<30 || res.Memory.Used != 3<<30 {
		t.Fatalf("resources = %+v", res)
	}
}

func TestAllocation(t *testing.T) {
	f := newFake(t)
	f.route("GET /1.0/resources", func(w http.ResponseWriter, r *http.Request) {
		sync200(w, map[string]any{"cpu": map[string]any{"total": 4}, "memory": map[string]any{"total": 8 << 30}})
	})
	f.route("GET /1.0/instances", func(w http.ResponseWriter, r *http.Request) {
		sync200(w, []map[string]any{
			{"name": "web", "status": "Running", "status_code": 103, "config": map[string]string{"limits.cpu": "2", "limits.memory": "1GiB"}},
			{"name": "db", "status": "Frozen", "status_code": 110, "config": map[string]string{}},
			{"name": "old", "status": "Stopped", "status_code": 102, "config": map[string]string{"limits.memory": "4GiB"}},
		})
	})
	f.route("GET /1.0/instances/db/state", func(w http.ResponseWriter, r *http.Request) {
		sync200(w, map[string]any{"status": "Frozen", "status_code": 110, "memory": map[string]any{"usage": 300 << 20}})
	})
	c := f.startUnix()
	a, err := c.Allocation(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a.CPUs != 4 || a.Memory != 8<<30-lxd.SystemReserve(8<<30) || lxd.SystemReserve(8<<30) != 8<<30/20 {
		t.Fatalf("machine = %v CPUs, %d bytes", a.CPUs, a.Memory)
	}
	// Stopped instances hold nothing; an unlimited one counts its usage.
	cpus, mem := a.Used("")
	if cpus != 2 || mem != 1<<30+300<<20 {
		t.Errorf("used = %v CPUs, %d bytes", cpus, mem)
	}
	if cpus, mem := a.Used("web"); cpus != 0 || mem != 300<<20 {
		t.Errorf("used except web = %v CPUs, %d bytes", cpus, mem)
	}
	if db := a.Instance("db"); db == nil || !db.Active || db.MemoryLimited || db.CPULimited {
		t.Errorf("db = %+v", db)
	}
	if lxd.SystemReserve(1<<30) != 256<<20 || lxd.SystemReserve(64<<30) != 1<<30 {
		t.Error("SystemReserve bounds")
	}
}
