package exporter

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/internal/virt"
)

// fakeClient stands in for go-libvirt in unit tests.
type fakeClient struct {
	mu      sync.Mutex
	records []libvirt.DomainStatsRecord
	err     error
	calls   int
	block   chan struct{} // stats calls wait for it to close, if set
	events  chan libvirt.DomainEventLifecycleMsg
	disc    chan struct{}
	subErr  error
}

func newFakeClient(records ...libvirt.DomainStatsRecord) *fakeClient {
	return &fakeClient{records: records, events: make(chan libvirt.DomainEventLifecycleMsg, 16), disc: make(chan struct{})}
}

func (f *fakeClient) ConnectGetAllDomainStats(_ []libvirt.Domain, stats, _ uint32) ([]libvirt.DomainStatsRecord, error) {
	f.mu.Lock()
	f.calls++
	block, recs, err := f.block, f.records, f.err
	f.mu.Unlock()
	if block != nil {
		<-block
	}
	if err != nil {
		return nil, err
	}
	if stats == uint32(libvirt.DomainStatsState) {
		// Only the state group, as reconcile asks.
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

func (f *fakeClient) LifecycleEvents(ctx context.Context) (<-chan libvirt.DomainEventLifecycleMsg, error) {
	if f.subErr != nil {
		return nil, f.subErr
	}
	return f.events, nil
}

func (f *fakeClient) Disconnected() <-chan struct{} { return f.disc }

func (f *fakeClient) Disconnect() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.disc:
	default:
		close(f.disc)
	}
	return nil
}

func (f *fakeClient) setRecords(r ...libvirt.DomainStatsRecord) {
	f.mu.Lock()
	f.records = r
	f.mu.Unlock()
}

func (f *fakeClient) statsCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

var errFakeDial = errors.New("fake: libvirtd is down")

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func mustUUID(s string) libvirt.UUID {
	u, err := virt.ParseUUID(s)
	if err != nil {
		panic(err)
	}
	return u
}

func tp(field string, v any) libvirt.TypedParam {
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

// sampleRecords is one running domain with every stats group and one
// shut-off domain with only its state, as libvirt reports them.
func sampleRecords() []libvirt.DomainStatsRecord {
	return []libvirt.DomainStatsRecord{
		{Dom: libvirt.Domain{Name: "web", UUID: mustUUID("11111111-2222-3333-4444-555555555555"), ID: 3}, Params: []libvirt.TypedParam{
			tp("state.state", int32(1)), tp("state.reason", int32(1)),
			tp("cpu.time", uint64(12_500_000_000)), tp("cpu.user", uint64(10_000_000_000)), tp("cpu.system", uint64(2_000_000_000)),
			tp("balloon.current", uint64(1048576)), tp("balloon.maximum", uint64(2097152)),
			tp("balloon.usable", uint64(524288)), tp("balloon.available", uint64(1000000)), tp("balloon.rss", uint64(600000)),
			tp("vcpu.current", uint32(2)), tp("vcpu.maximum", uint32(4)), tp("vcpu.0.state", int32(1)), tp("vcpu.0.time", uint64(5)),
			tp("net.count", uint32(1)), tp("net.0.name", "vnet0"), tp("net.0.rx.bytes", uint64(1000)), tp("net.0.rx.pkts", uint64(10)),
			tp("net.0.rx.errs", uint64(0)), tp("net.0.rx.drop", uint64(1)), tp("net.0.tx.bytes", uint64(2000)), tp("net.0.tx.pkts", uint64(20)),
			tp("net.0.tx.errs", uint64(0)), tp("net.0.tx.drop", uint64(0)),
			tp("block.count", uint32(1)), tp("block.0.name", "vda"), tp("block.0.path", "/var/lib/libvirt/images/web.qcow2"),
			tp("block.0.rd.reqs", uint64(100)), tp("block.0.rd.bytes", uint64(409600)), tp("block.0.wr.reqs", uint64(50)),
			tp("block.0.wr.bytes", uint64(204800)), tp("block.0.capacity", uint64(10737418240)), tp("block.0.allocation", uint64(1073741824)),
		}},
		{Dom: libvirt.Domain{Name: "db", UUID: mustUUID("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"), ID: -1}, Params: []libvirt.TypedParam{
			tp("state.state", int32(5)), tp("state.reason", int32(2)),
		}},
	}
}
