package exportertest

import (
	"context"
	"errors"
	"sync"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/internal/virt"
)

// FakeClient stands in for go-libvirt (lifecycle.Client) in unit tests.
type FakeClient struct {
	// Events delivers lifecycle events to the subscriber.
	Events chan libvirt.DomainEventLifecycleMsg
	// Block, if set before the first call, holds every stats call until it
	// is closed: a hung libvirtd.
	Block chan struct{}

	mu      sync.Mutex
	records []libvirt.DomainStatsRecord
	calls   int
	disc    chan struct{}
	inv     FakeInventory
}

// NewFakeClient is a connected libvirtd that reports records.
func NewFakeClient(records ...libvirt.DomainStatsRecord) *FakeClient {
	return &FakeClient{records: records, Events: make(chan libvirt.DomainEventLifecycleMsg, 16), disc: make(chan struct{})}
}

func (f *FakeClient) ConnectGetAllDomainStats(_ []libvirt.Domain, stats, _ uint32) ([]libvirt.DomainStatsRecord, error) {
	f.mu.Lock()
	f.calls++
	block, recs := f.Block, f.records
	f.mu.Unlock()
	if block != nil {
		<-block
	}
	if stats == uint32(libvirt.DomainStatsState) {
		// Only the state group, as reconciliation asks.
		out := make([]libvirt.DomainStatsRecord, len(recs))
		for i, r := range recs {
			out[i].Dom = r.Dom
			for _, p := range r.Params {
				if p.Field == "state.state" || p.Field == "state.reason" {
					out[i].Params = append(out[i].Params, p)
				}
			}
		}
		return out, nil
	}
	return recs, nil
}

func (f *FakeClient) LifecycleEvents(context.Context) (<-chan libvirt.DomainEventLifecycleMsg, error) {
	return f.Events, nil
}

func (f *FakeClient) Disconnected() <-chan struct{} { return f.disc }

// Disconnect closes the connection, as a libvirtd that died would.
func (f *FakeClient) Disconnect() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.disc:
	default:
		close(f.disc)
	}
	return nil
}

// Hang makes every stats call from now on wait, as a hung libvirtd does,
// until release is called.
func (f *FakeClient) Hang() (release func()) {
	block := make(chan struct{})
	f.mu.Lock()
	f.Block = block
	f.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(block) }) }
}

// SetRecords replaces what the next stats calls report.
func (f *FakeClient) SetRecords(r ...libvirt.DomainStatsRecord) {
	f.mu.Lock()
	f.records = r
	f.mu.Unlock()
}

// StatsCalls counts the stats calls so far, finished or not.
func (f *FakeClient) StatsCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// ErrFakeDial is what a dialer returns while libvirtd is down.
var ErrFakeDial = errors.New("fake: libvirtd is down")

// MustUUID parses a UUID or panics.
func MustUUID(s string) libvirt.UUID {
	u, err := virt.ParseUUID(s)
	if err != nil {
		panic(err)
	}
	return u
}

// TP is a typed parameter as go-libvirt decodes one.
func TP(field string, v any) libvirt.TypedParam {
	var d uint32
	switch v.(type) {
	case int32:
		d = 1
	case uint32:
		d = 2
	case int64:
		d = 3
	case uint64:
		d = 4
	case float64:
		d = 5
	case string:
		d = 7
	}
	return libvirt.TypedParam{Field: field, Value: libvirt.TypedParamValue{D: d, I: v}}
}

// WebUUID is the UUID of the running domain "web" in SampleRecords.
const WebUUID = "11111111-2222-3333-4444-555555555555"

// SampleRecords is one running domain with every stats group and one
// shut-off domain with only its state, as libvirt reports them.
func SampleRecords() []libvirt.DomainStatsRecord {
	return []libvirt.DomainStatsRecord{
		{Dom: libvirt.Domain{Name: "web", UUID: MustUUID(WebUUID), ID: 3}, Params: []libvirt.TypedParam{
			TP("state.state", int32(1)), TP("state.reason", int32(1)),
			TP("cpu.time", uint64(12_500_000_000)), TP("cpu.user", uint64(10_000_000_000)), TP("cpu.system", uint64(2_000_000_000)),
			TP("balloon.current", uint64(1048576)), TP("balloon.maximum", uint64(2097152)),
			TP("balloon.usable", uint64(524288)), TP("balloon.available", uint64(1000000)), TP("balloon.rss", uint64(600000)),
			// Guest-side figures: only with the guest's virtio balloon driver.
			TP("balloon.unused", uint64(400000)), TP("balloon.disk_caches", uint64(100000)),
			TP("balloon.swap_in", uint64(8)), TP("balloon.swap_out", uint64(16)),
			TP("balloon.major_fault", uint64(300)), TP("balloon.minor_fault", uint64(70000)),
			TP("vcpu.current", uint32(2)), TP("vcpu.maximum", uint32(4)), TP("vcpu.0.state", int32(1)), TP("vcpu.0.time", uint64(5_000_000_000)),
			TP("vcpu.0.wait", uint64(20_000_000)), TP("vcpu.0.delay", uint64(30_000_000)),
			TP("net.count", uint32(1)), TP("net.0.name", "vnet0"), TP("net.0.rx.bytes", uint64(1000)), TP("net.0.rx.pkts", uint64(10)),
			TP("net.0.rx.errs", uint64(0)), TP("net.0.rx.drop", uint64(1)), TP("net.0.tx.bytes", uint64(2000)), TP("net.0.tx.pkts", uint64(20)),
			TP("net.0.tx.errs", uint64(0)), TP("net.0.tx.drop", uint64(0)),
			TP("block.count", uint32(1)), TP("block.0.name", "vda"), TP("block.0.path", "/var/lib/libvirt/images/web.qcow2"),
			TP("block.0.rd.reqs", uint64(100)), TP("block.0.rd.bytes", uint64(409600)), TP("block.0.wr.reqs", uint64(50)),
			TP("block.0.wr.bytes", uint64(204800)), TP("block.0.capacity", uint64(10737418240)), TP("block.0.allocation", uint64(1073741824)),
			TP("block.0.rd.times", uint64(40_000_000)), TP("block.0.wr.times", uint64(90_000_000)),
			TP("block.0.fl.reqs", uint64(7)), TP("block.0.fl.times", uint64(3_000_000)),
		}},
		{Dom: libvirt.Domain{Name: "db", UUID: MustUUID("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"), ID: -1}, Params: []libvirt.TypedParam{
			TP("state.state", int32(5)), TP("state.reason", int32(2)),
		}},
	}
}

// Lifecycle is a lifecycle event as libvirt delivers it.
func Lifecycle(name, uuid string, event libvirt.DomainEventType, detail int32) libvirt.DomainEventLifecycleMsg {
	return libvirt.DomainEventLifecycleMsg{Dom: libvirt.Domain{Name: name, UUID: MustUUID(uuid)}, Event: int32(event), Detail: detail}
}

// FakeInventory is what the fake's background calls answer: domain XML
// and jobs by UUID, and storage pools.
type FakeInventory struct {
	XML   map[string]string
	Jobs  map[string]FakeJob
	Pools []FakePool
}

// FakeJob is a virDomainGetJobStats answer.
type FakeJob struct {
	Type   int32
	Params []libvirt.TypedParam
}

// FakePool is a storage pool and its virStoragePoolGetInfo answer.
type FakePool struct {
	Name                            string
	State                           uint8
	Capacity, Allocation, Available uint64
}

// SetInventory replaces what the background calls answer.
func (f *FakeClient) SetInventory(inv FakeInventory) {
	f.mu.Lock()
	f.inv = inv
	f.mu.Unlock()
}

func (f *FakeClient) DomainGetXMLDesc(dom libvirt.Domain, _ libvirt.DomainXMLFlags) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if x, ok := f.inv.XML[virt.FormatUUID(dom.UUID)]; ok {
		return x, nil
	}
	return "", libvirt.Error{Code: uint32(libvirt.ErrNoDomain), Message: "Domain not found"}
}

func (f *FakeClient) DomainGetJobStats(dom libvirt.Domain, _ libvirt.DomainGetJobStatsFlags) (int32, []libvirt.TypedParam, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.inv.Jobs[virt.FormatUUID(dom.UUID)]
	return j.Type, j.Params, nil
}

func (f *FakeClient) ConnectListAllStoragePools(int32, libvirt.ConnectListAllStoragePoolsFlags) ([]libvirt.StoragePool, uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []libvirt.StoragePool
	for _, p := range f.inv.Pools {
		out = append(out, libvirt.StoragePool{Name: p.Name})
	}
	return out, uint32(len(out)), nil
}

func (f *FakeClient) StoragePoolGetInfo(pool libvirt.StoragePool) (uint8, uint64, uint64, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.inv.Pools {
		if p.Name == pool.Name {
			return p.State, p.Capacity, p.Allocation, p.Available, nil
		}
	}
	return 0, 0, 0, 0, libvirt.Error{Code: uint32(libvirt.ErrNoStoragePool), Message: "Storage pool not found"}
}
