package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
	"github.com/vcrcovery/vcrcovery/exporter/inventory"
	"github.com/vcrcovery/vcrcovery/exporter/lifecycle"
	"github.com/vcrcovery/vcrcovery/internal/virt"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// qemuCapture is what a real QEMU (TCG) domain answered to every call the
// libvirt collector and the inventory make: testdata/qemu-capture.json,
// rewritten by `go test -run TestQEMUDomainGolden -update` (needs root and
// libvirtd: it boots a guest through test/testenv).
type qemuCapture struct {
	Record struct {
		Name   string          `json:"name"`
		UUID   string          `json:"uuid"`
		Params []capturedParam `json:"params"`
	} `json:"record"`
	XML string `json:"xml"`
	// Job is the answer of virDomainGetJobStats while a save of the domain
	// to a file was under way: a real active job.
	Job struct {
		Type   int32           `json:"type"`
		Params []capturedParam `json:"params"`
	} `json:"job"`
	Pools []exportertest.FakePool `json:"pools"`
}

// capturedParam is a typed parameter with its XDR type (1 int, 2 uint,
// 3 llong, 4 ullong, 5 double, 6 boolean, 7 string) and its value as text,
// so that uint64 counters survive JSON.
type capturedParam struct {
	Field string `json:"field"`
	Type  uint32 `json:"type"`
	Value string `json:"value"`
}

func captureParams(ps []libvirt.TypedParam) []capturedParam {
	out := make([]capturedParam, len(ps))
	for i, p := range ps {
		out[i] = capturedParam{Field: p.Field, Type: p.Value.D, Value: fmt.Sprint(p.Value.I)}
	}
	return out
}

func (c capturedParam) typed(t *testing.T) libvirt.TypedParam {
	t.Helper()
	var v any
	var err error
	switch c.Type {
	case 1:
		var n int64
		n, err = strconv.ParseInt(c.Value, 10, 32)
		v = int32(n)
	case 2:
		var n uint64
		n, err = strconv.ParseUint(c.Value, 10, 32)
		v = uint32(n)
	case 3:
		v, err = strconv.ParseInt(c.Value, 10, 64)
	case 4:
		v, err = strconv.ParseUint(c.Value, 10, 64)
	case 5:
		v, err = strconv.ParseFloat(c.Value, 64)
	case 6:
		v, err = strconv.ParseBool(c.Value)
	default:
		v = c.Value
	}
	if err != nil {
		t.Fatalf("captured %s: %v", c.Field, err)
	}
	return libvirt.TypedParam{Field: c.Field, Value: libvirt.TypedParamValue{D: c.Type, I: v}}
}

const qemuCaptureFile = "testdata/qemu-capture.json"

// The metadata the captured guest carries: OpenStack nova's, and a key of
// our own read through --libvirt.metadata-label.
const qemuMetadata = `<nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">` +
	`<nova:name>web-1</nova:name><nova:flavor name="m1.small"><nova:memory>256</nova:memory></nova:flavor>` +
	`<nova:owner><nova:user uuid="u-123">alice</nova:user><nova:project uuid="p-456">shop</nova:project></nova:owner>` +
	`</nova:instance><ops:service xmlns:ops="https://example.com/ops/1"><ops:team>sre</ops:team></ops:service>`

const qemuMetadataLabel = "team=https://example.com/ops/1#team"

// Every family of the libvirt collector from a real QEMU domain: per-vCPU
// times, block I/O times, balloon figures (the guest's own too: swap,
// page faults, usable, available, unused and disk caches, from its
// virtio_balloon driver), the XML info (OS, disk, interface, OpenStack,
// --libvirt.metadata-label), an active job and a storage pool.
func TestQEMUDomainGolden(t *testing.T) {
	if *update {
		captureQEMUDomain(t)
	}
	b, err := os.ReadFile(qemuCaptureFile)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update as root to capture it)", err, t.Name())
	}
	var cap qemuCapture
	if err := json.Unmarshal(b, &cap); err != nil {
		t.Fatal(err)
	}
	rec := libvirt.DomainStatsRecord{Dom: libvirt.Domain{Name: cap.Record.Name, UUID: exportertest.MustUUID(cap.Record.UUID), ID: 1}}
	for _, p := range cap.Record.Params {
		rec.Params = append(rec.Params, p.typed(t))
	}
	job := exportertest.FakeJob{Type: cap.Job.Type}
	for _, p := range cap.Job.Params {
		job.Params = append(job.Params, p.typed(t))
	}
	fake := exportertest.NewFakeClient(rec)
	fake.SetInventory(exportertest.FakeInventory{XML: map[string]string{cap.Record.UUID: cap.XML},
		Jobs: map[string]exportertest.FakeJob{cap.Record.UUID: job}, Pools: cap.Pools})

	key, err := inventory.ParseMetadataKey(qemuMetadataLabel)
	if err != nil {
		t.Fatal(err)
	}
	inv := inventory.New(inventory.Options{JobInterval: time.Minute, PoolInterval: time.Minute,
		MetadataKeys: []inventory.MetadataKey{key}, Logger: exportertest.DiscardLogger()})
	inv.Refresh(context.Background(), fake, []inventory.Domain{{Dom: rec.Dom, UUID: cap.Record.UUID, Running: true}})
	c := newLibvirtCollector(fixedConnection{fake}, lifecycle.NewStateCache(time.Minute), "hv1", "tokyo")
	c.setInventory(inv)
	a := &exportertest.CollectorAdapter{C: c, Timeout: time.Second}
	compareGolden(t, a, "qemu.golden")
	if a.Err != nil {
		t.Fatalf("Update: %v", a.Err)
	}
	if missing := missingBalloonFields(rec.Params); len(missing) > 0 {
		t.Fatalf("%s lacks the guest's balloon figures %v: recapture with -update", qemuCaptureFile, missing)
	}
}

// missingBalloonFields lists the balloon.* fields the collector reads that
// are not in ps; those of the guest need its virtio_balloon driver and a
// stats period.
func missingBalloonFields(ps []libvirt.TypedParam) []string {
	have := map[string]bool{}
	for _, p := range ps {
		have[p.Field] = true
	}
	var missing []string
	for _, d := range scalarDefs {
		if strings.HasPrefix(d.field, "balloon.") && !have[d.field] {
			missing = append(missing, d.field)
		}
	}
	return missing
}

// waitBalloonStats waits until libvirt reports every balloon figure of
// doms: the guest's virtio_balloon driver answers QEMU's first stats
// request some time after boot, and QEMU asks once per stats period.
func waitBalloonStats(t testing.TB, conn *libvirt.Libvirt, doms ...libvirt.Domain) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		recs, err := conn.ConnectGetAllDomainStats(doms, uint32(libvirt.DomainStatsBalloon), lifecycle.StatsFlags)
		if err != nil || len(recs) != len(doms) {
			t.Fatalf("balloon stats: %v (%d records for %d domains)", err, len(recs), len(doms))
		}
		var missing []string
		for _, r := range recs {
			if m := missingBalloonFields(r.Params); len(m) > 0 {
				missing = append(missing, fmt.Sprintf("%s: %v", r.Dom.Name, m))
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no guest balloon figures within 60s (does the test VM image load virtio_balloon?): %v", missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// qemuDevices is a guest's disk (an image in dir), tap interface and
// virtio balloon with a stats period; n makes the MAC address unique.
func qemuDevices(t testing.TB, dir string, n int) string {
	t.Helper()
	disk := filepath.Join(dir, fmt.Sprintf("disk%d.img", n))
	if err := os.WriteFile(disk, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	// Fixed PCI slots: QEMU puts the test image's own e1000 (a command-line
	// device libvirt does not know) on the first free slot, which libvirt
	// would otherwise hand out too.
	slot := func(n int) string {
		return fmt.Sprintf(`<address type='pci' domain='0x0000' bus='0x00' slot='0x%02x' function='0x0'/>`, n)
	}
	return fmt.Sprintf(`<disk type='file' device='disk'><driver name='qemu' type='raw' cache='writeback'/>`+
		`<source file='%s'/><target dev='vda' bus='virtio'/><serial>vcr-capture</serial>%s</disk>`+
		`<interface type='ethernet'><mac address='52:54:00:5c:72:%02x'/><model type='virtio'/>%s</interface>`+
		`<memballoon model='virtio'><stats period='1'/>%s</memballoon>`, disk, slot(10), n, slot(11), slot(12))
}

// captureQEMUDomain boots a TCG guest with a disk, a tap interface, a
// virtio balloon and metadata, in a directory storage pool, and records what
// libvirt answers.
func captureQEMUDomain(t *testing.T) {
	lv := testenv.Libvirt(t)
	dir := t.TempDir()
	_ = os.Chmod(dir, 0o755)
	conn := lv.Connect(t, "qemu:///system")
	poolName := testenv.UniqueName(t, "vcrpool-")
	pool, err := conn.StoragePoolCreateXML(fmt.Sprintf(`<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>`, poolName, dir), 0)
	if err != nil {
		t.Fatalf("create storage pool: %v", err)
	}
	t.Cleanup(func() { _ = conn.StoragePoolDestroy(pool) })
	vm := lv.StartVM(t, testenv.VMOptions{Devices: qemuDevices(t, dir, 1), Metadata: qemuMetadata})
	dom := vm.Domain(t, conn)
	waitBalloonStats(t, conn, dom)

	var cap qemuCapture
	recs, err := conn.ConnectGetAllDomainStats([]libvirt.Domain{dom}, statsGroups, lifecycle.StatsFlags)
	if err != nil || len(recs) != 1 {
		t.Fatalf("stats: %v (%d records)", err, len(recs))
	}
	cap.Record.Name, cap.Record.UUID, cap.Record.Params = dom.Name, virt.FormatUUID(dom.UUID), captureParams(recs[0].Params)
	if cap.XML, err = conn.DomainGetXMLDesc(dom, 0); err != nil {
		t.Fatal(err)
	}
	pools, _, err := conn.ConnectListAllStoragePools(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pools {
		if p.Name != poolName {
			continue
		}
		st, capa, alloc, avail, err := conn.StoragePoolGetInfo(p)
		if err != nil {
			t.Fatal(err)
		}
		cap.Pools = append(cap.Pools, exportertest.FakePool{Name: "capture", State: st, Capacity: capa, Allocation: alloc, Available: avail})
	}

	// A real job: save the guest to a file and ask for its job meanwhile.
	saved := make(chan error, 1)
	go func() { saved <- conn.DomainSave(dom, filepath.Join(dir, "saved.img")) }()
	deadline := time.Now().Add(60 * time.Second)
	for cap.Job.Params == nil {
		typ, params, err := conn.DomainGetJobStats(dom, 0)
		if err == nil && (typ == int32(libvirt.DomainJobBounded) || typ == int32(libvirt.DomainJobUnbounded)) {
			for _, p := range params {
				if p.Field == "data_processed" && lifecycle.ParamFloat(p.Value) > 0 {
					cap.Job.Type, cap.Job.Params = typ, captureParams(params)
				}
			}
		}
		select {
		case err := <-saved:
			if cap.Job.Params == nil {
				t.Fatalf("save finished (%v) before an active job with progress was seen", err)
			}
			saved <- err
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no active save job seen within 60s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := <-saved; err != nil {
		t.Fatalf("save: %v", err)
	}
	b, err := json.MarshalIndent(cap, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(qemuCaptureFile, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
