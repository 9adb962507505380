package collector

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
	"github.com/vcrcovery/vcrcovery/exporter/inventory"
	"github.com/vcrcovery/vcrcovery/exporter/lifecycle"
	"github.com/vcrcovery/vcrcovery/internal/virt"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// fixedConnection lends the libvirt collector c, or nothing if c is nil: a
// libvirtd that is up, or down.
type fixedConnection struct{ c lifecycle.Client }

func (f fixedConnection) Current() lifecycle.Client { return f.c }

func compareGolden(t *testing.T, col prometheus.Collector, golden string) {
	t.Helper()
	path := filepath.Join("testdata", golden)
	if *update {
		if err := os.WriteFile(path, []byte(gatherText(t, col, prometheus.NewPedanticRegistry())), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	defer f.Close()
	if err := testutil.CollectAndCompare(col, f); err != nil {
		t.Fatal(err)
	}
}

// gatherText registers col in reg and writes what it gathers as expfmt does.
func gatherText(t *testing.T, col prometheus.Collector, reg *prometheus.Registry) string {
	t.Helper()
	reg.MustRegister(col)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func TestLibvirtCollectorGolden(t *testing.T) {
	fake := exportertest.NewFakeClient(exportertest.SampleRecords()...)
	cache := lifecycle.NewStateCache(10 * time.Minute)
	// A transient domain that stopped (and vanished from libvirt's list)
	// a minute ago stays visible with its last state; a running one that
	// vanished without an event is not invented.
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cache.Set("99999999-0000-0000-0000-000000000001", "transient", 5, 2, now.Add(-time.Minute))
	cache.Set("99999999-0000-0000-0000-000000000002", "gone-running", 1, 1, now.Add(-time.Minute))
	cache.Set("99999999-0000-0000-0000-000000000003", "too-old", 5, 2, now.Add(-time.Hour))
	// Migrated away (shutoff/migrated): a transient domain that now runs
	// elsewhere did not fail, and is not kept as shut off.
	cache.Set("99999999-0000-0000-0000-000000000004", "migrated-away", 5, 4, now.Add(-time.Minute))
	c := newLibvirtCollector(fixedConnection{fake}, cache, "hv1", "tokyo")
	c.now = func() time.Time { return now }
	// The inventory: hand-written XML with every disk and interface kind the
	// info metrics distinguish, an outgoing migration with every job field,
	// and two pools. TestQEMUDomainGolden has the same from a real domain.
	xml, err := os.ReadFile("testdata/web-domain.xml")
	if err != nil {
		t.Fatal(err)
	}
	tp := exportertest.TP
	fake.SetInventory(exportertest.FakeInventory{XML: map[string]string{exportertest.WebUUID: string(xml)},
		Jobs: map[string]exportertest.FakeJob{exportertest.WebUUID: {Type: 1, Params: []libvirt.TypedParam{
			tp("operation", int32(5)), tp("time_elapsed", uint64(12_000)), tp("time_remaining", uint64(3_000)),
			tp("data_total", uint64(4<<30)), tp("data_processed", uint64(3<<30)), tp("data_remaining", uint64(1<<30)),
			tp("memory_total", uint64(2<<30)), tp("memory_processed", uint64(1<<30)), tp("memory_remaining", uint64(1<<30)),
			tp("disk_total", uint64(2<<30)), tp("disk_processed", uint64(2<<30)), tp("disk_remaining", uint64(0)),
			tp("downtime", uint64(150)), tp("memory_dirty_rate", uint64(1200)),
		}}},
		Pools: []exportertest.FakePool{{Name: "images", State: 2, Capacity: 100 << 30, Allocation: 40 << 30, Available: 60 << 30},
			{Name: "isos", State: 0}}})
	key, err := inventory.ParseMetadataKey("tier=https://example.com/ops/1#@tier")
	if err != nil {
		t.Fatal(err)
	}
	team, _ := inventory.ParseMetadataKey("team=https://example.com/ops/1#team")
	inv := inventory.New(inventory.Options{JobInterval: time.Minute, PoolInterval: time.Minute,
		MetadataKeys: []inventory.MetadataKey{key, team}, Logger: exportertest.DiscardLogger()})
	inv.Refresh(context.Background(), fake, []inventory.Domain{
		{Dom: exportertest.SampleRecords()[0].Dom, UUID: exportertest.WebUUID, Running: true},
		{Dom: exportertest.SampleRecords()[1].Dom, UUID: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"}})
	c.setInventory(inv)
	a := &exportertest.CollectorAdapter{C: c, Timeout: time.Second}
	compareGolden(t, a, "libvirt.golden")
	if a.Err != nil {
		t.Fatalf("Update: %v", a.Err)
	}
}

// One scrape, one round trip, whatever the number of domains.
func TestLibvirtCollectorOneRoundTrip(t *testing.T) {
	recs := make([]libvirt.DomainStatsRecord, 0, 300)
	for i := 0; i < 100; i++ {
		recs = append(recs, exportertest.SampleRecords()...)
		recs[len(recs)-1].Dom.UUID[0] = byte(i)
		recs[len(recs)-2].Dom.UUID[0] = byte(i)
	}
	fake := exportertest.NewFakeClient(recs...)
	c := newLibvirtCollector(fixedConnection{fake}, lifecycle.NewStateCache(time.Minute), "hv1", "")
	ch := make(chan prometheus.Metric, 100000)
	if err := c.Update(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	if n := fake.StatsCalls(); n != 1 {
		t.Fatalf("stats calls per scrape = %d, want 1", n)
	}
}

func TestLibvirtCollectorDown(t *testing.T) {
	c := newLibvirtCollector(fixedConnection{}, lifecycle.NewStateCache(time.Minute), "hv1", "tokyo")
	a := &exportertest.CollectorAdapter{C: c, Timeout: time.Second}
	compareGolden(t, a, "libvirt_down.golden")
	if a.Err == nil {
		t.Fatal("Update succeeded without a connection")
	}
}

// A hung libvirtd costs each scrape its timeout, never more, and stuck
// calls do not pile up.
func TestLibvirtCollectorTimeout(t *testing.T) {
	fake := exportertest.NewFakeClient(exportertest.SampleRecords()...)
	fake.Block = make(chan struct{})
	defer close(fake.Block)
	c := newLibvirtCollector(fixedConnection{fake}, lifecycle.NewStateCache(time.Minute), "hv1", "")
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		start := time.Now()
		ch := make(chan prometheus.Metric, 100)
		err := c.Update(ctx, ch)
		cancel()
		if err == nil {
			t.Fatal("Update succeeded against a hung libvirtd")
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Update took %v with a 50ms timeout", d)
		}
		if m := <-ch; !strings.Contains(m.Desc().String(), "vcr_libvirt_up") {
			t.Fatalf("first metric %s, want vcr_libvirt_up", m.Desc())
		}
	}
	if n := fake.StatsCalls(); n != 1 {
		t.Fatalf("%d stats calls in flight, want 1", n)
	}
}

// While a stats call hangs, the next scrapes fail at once instead of
// waiting out their timeout, and say how long the call has been pending: a
// hung libvirtd must cost vcr_libvirt_up, never the whole scrape (and with
// it `up` and the host's heartbeat).
func TestLibvirtCollectorFailsFastWhileCallHangs(t *testing.T) {
	const up, inFlight = "vcr_libvirt_up", "vcr_libvirt_call_in_flight_seconds"
	fake := exportertest.NewFakeClient(exportertest.SampleRecords()...)
	fake.Block = make(chan struct{})
	c := newLibvirtCollector(fixedConnection{fake}, lifecycle.NewStateCache(time.Minute), "hv1", "tokyo")
	update := func(timeout time.Duration) (time.Duration, error, map[string]float64) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		ch := make(chan prometheus.Metric, 100)
		start := time.Now()
		err := c.Update(ctx, ch)
		d := time.Since(start)
		close(ch)
		var r replay
		for m := range ch {
			r = append(r, m)
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(r)
		s := exportertest.Gather(t, reg)
		got := map[string]float64{}
		for _, name := range []string{up, inFlight} {
			got[name], _ = s.Get(name, nil)
		}
		return d, err, got
	}
	if _, err, _ := update(50 * time.Millisecond); err == nil {
		t.Fatal("the first scrape succeeded against a hung libvirtd")
	}
	d, err, got := update(5 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "libvirtd may be hung") {
		t.Fatalf("second scrape: err = %v, want the pending call named", err)
	}
	if d > time.Second {
		t.Fatalf("second scrape took %v while a call was pending; it must fail at once", d)
	}
	if got[up] != 0 || got[inFlight] < 0.04 {
		t.Fatalf("vcr_libvirt_up = %v, in flight = %vs; want 0 and at least the first scrape's 50ms", got[up], got[inFlight])
	}
	if n := fake.StatsCalls(); n != 1 {
		t.Fatalf("%d stats calls, want the one that hangs", n)
	}
	// libvirtd answers again: the next scrape works and nothing is pending.
	close(fake.Block)
	exportertest.WaitFor(t, func() bool { return c.pendingFor() == 0 })
	if _, err, got := update(time.Second); err != nil || got[up] != 1 || got[inFlight] != 0 {
		t.Fatalf("after the hang: err %v, up %v, in flight %v", err, got[up], got[inFlight])
	}
}

// replay is an unchecked collector that sends metrics collected before.
type replay []prometheus.Metric

func (replay) Describe(chan<- *prometheus.Desc) {}
func (r replay) Collect(ch chan<- prometheus.Metric) {
	for _, m := range r {
		ch <- m
	}
}

// An event that arrives after the stats snapshot was taken wins over it.
func TestLibvirtCollectorPrefersNewerEvent(t *testing.T) {
	fake := exportertest.NewFakeClient(exportertest.SampleRecords()...)
	cache := lifecycle.NewStateCache(time.Minute)
	c := newLibvirtCollector(fixedConnection{fake}, cache, "hv1", "")
	t0 := time.Now()
	c.now = func() time.Time { return t0 }
	cache.Set("11111111-2222-3333-4444-555555555555", "web", 5, 2, t0.Add(time.Millisecond))
	reg := prometheus.NewRegistry()
	reg.MustRegister(&exportertest.CollectorAdapter{C: c, Timeout: time.Second})
	want := `# HELP vcr_domain_state libvirt domain state: 0 nostate, 1 running, 2 blocked, 3 paused, 4 shutdown, 5 shutoff, 6 crashed, 7 pmsuspended.
# TYPE vcr_domain_state gauge
vcr_domain_state{cloud="",domain="db",host="hv1",uuid="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"} 5
vcr_domain_state{cloud="",domain="web",host="hv1",uuid="11111111-2222-3333-4444-555555555555"} 5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "vcr_domain_state"); err != nil {
		t.Fatal(err)
	}
	// An older event loses to the snapshot.
	cache.Set("11111111-2222-3333-4444-555555555555", "web", 5, 2, t0.Add(-time.Millisecond))
	want = strings.Replace(want, `uuid="11111111-2222-3333-4444-555555555555"} 5`, `uuid="11111111-2222-3333-4444-555555555555"} 1`, 1)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "vcr_domain_state"); err != nil {
		t.Fatal(err)
	}
}

// benchDomains builds n domains from the captured QEMU domain with every
// stats group (two vCPUs, two disks, two NICs, guest balloon figures) and
// an inventory holding their XML, a job answer each (one in a hundred
// migrating) and three storage pools: a full scrape without RPC, the part
// the test driver, which reports only states, does not exercise.
func benchDomains(b *testing.B, n int) (*exportertest.FakeClient, *inventory.Inventory, []inventory.Domain) {
	raw, err := os.ReadFile(qemuCaptureFile)
	if err != nil {
		b.Fatal(err)
	}
	var cap qemuCapture
	if err := json.Unmarshal(raw, &cap); err != nil {
		b.Fatal(err)
	}
	t := &testing.T{}
	var base []libvirt.TypedParam
	for _, p := range cap.Record.Params {
		q := p.typed(t)
		base = append(base, q)
		if strings.HasPrefix(q.Field, "block.0.") || strings.HasPrefix(q.Field, "net.0.") || strings.HasPrefix(q.Field, "vcpu.0.") {
			q.Field = strings.Replace(q.Field, ".0.", ".1.", 1)
			switch q.Field {
			case "block.1.name":
				q.Value.I = "vdb"
			case "net.1.name":
				q.Value.I = "vnet9"
			}
			base = append(base, q)
		}
	}
	inv := exportertest.FakeInventory{XML: map[string]string{}, Jobs: map[string]exportertest.FakeJob{}, Pools: cap.Pools}
	inv.Pools = append(inv.Pools, exportertest.FakePool{Name: "images"}, exportertest.FakePool{Name: "isos"})
	var job exportertest.FakeJob
	for _, p := range cap.Job.Params {
		job.Params = append(job.Params, p.typed(t))
	}
	recs := make([]libvirt.DomainStatsRecord, n)
	doms := make([]inventory.Domain, n)
	for i := range recs {
		recs[i].Dom = libvirt.Domain{Name: fmt.Sprintf("dom-%04d", i), UUID: exportertest.MustUUID(cap.Record.UUID), ID: int32(i + 1)}
		recs[i].Dom.UUID[0], recs[i].Dom.UUID[1] = byte(i), byte(i>>8)
		recs[i].Params = base
		uuid := virt.FormatUUID(recs[i].Dom.UUID)
		doms[i] = inventory.Domain{Dom: recs[i].Dom, UUID: uuid, Running: true}
		inv.XML[uuid] = cap.XML
		if i%100 == 0 {
			inv.Jobs[uuid] = exportertest.FakeJob{Type: cap.Job.Type, Params: job.Params}
		}
	}
	fake := exportertest.NewFakeClient(recs...)
	fake.SetInventory(inv)
	key, _ := inventory.ParseMetadataKey(qemuMetadataLabel)
	cache := inventory.New(inventory.Options{JobInterval: time.Hour, PoolInterval: time.Hour,
		MetadataKeys: []inventory.MetadataKey{key}, Logger: exportertest.DiscardLogger()})
	cache.Refresh(context.Background(), fake, doms)
	return fake, cache, doms
}

// BenchmarkCollect measures one scrape of 1,000 domains without RPC: what
// /metrics does for Prometheus (text: the builder written straight out;
// text+gzip: the same, compressed as Prometheus asks), the protobuf path
// through the gatherer, and the prometheus.Collector path through a
// registry, for comparison.
func BenchmarkCollect(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("domains=%d", n), func(b *testing.B) { benchmarkCollect(b, n) })
	}
}

func benchmarkCollect(b *testing.B, n int) {
	fake, inv, _ := benchDomains(b, n)
	c := newLibvirtCollector(fixedConnection{fake}, lifecycle.NewStateCache(time.Minute), "hv1", "tokyo")
	// The inventory is filled; each scrape still kicks a background refresh,
	// as in production, which finds little to do.
	c.setInventory(inv)
	set := &Set{collectors: map[string]Collector{"libvirt": c}, timeout: time.Minute, logger: exportertest.DiscardLogger()}
	base := prometheus.NewRegistry()
	for _, gz := range []bool{false, true} {
		name := "text"
		if gz {
			name = "text+gzip"
		}
		b.Run(name, func(b *testing.B) {
			var size int
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var w countingWriter
				var out io.Writer = &w
				var z *gzip.Writer
				if gz {
					z, _ = gzip.NewWriterLevel(&w, gzip.BestSpeed)
					out = z
				}
				if err := set.WriteText(out, base); err != nil {
					b.Fatal(err)
				}
				if z != nil {
					z.Close()
				}
				size = w.n
			}
			b.ReportMetric(float64(size)/1024, "KiB/scrape")
			// What stays between scrapes: label cache, inventory, records.
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "MB-heap-after-GC")
		})
	}
	b.Run("protobuf-gatherer", func(b *testing.B) {
		g := set.Gatherer(base)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, _, err := g.Gather(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("registry", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(&exportertest.CollectorAdapter{C: c, Timeout: time.Minute})
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := reg.Gather(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The text /metrics writes straight from the builder is what expfmt writes
// for a registry holding the same collector, line for line: the same
// families in the same order, each series escaped and formatted alike; only
// the order of series within a family differs (libvirt's domain order, not
// sorted label values, which the format does not ask for).
func TestWriteTextMatchesRegistry(t *testing.T) {
	fake := exportertest.NewFakeClient(exportertest.SampleRecords()...)
	c := newLibvirtCollector(fixedConnection{fake}, lifecycle.NewStateCache(time.Minute), "hv1", "ta\\n\"g")
	want := gatherText(t, &exportertest.CollectorAdapter{C: c, Timeout: time.Second}, prometheus.NewRegistry())
	set := &Set{collectors: map[string]Collector{"libvirt": c}, timeout: time.Second, logger: exportertest.DiscardLogger()}
	var got strings.Builder
	if err := set.WriteText(&got, prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	// WriteText puts the scrape metrics first (they come from base).
	_, rest, ok := strings.Cut(got.String(), "# HELP vcr_domain_")
	sorted := func(s string) []string {
		lines := strings.Split(s, "\n")
		slices.Sort(lines)
		return lines
	}
	if !ok || !slices.Equal(sorted("# HELP vcr_domain_"+rest), sorted(want)) {
		t.Fatalf("WriteText:\n%s\nregistry and expfmt:\n%s", got.String(), want)
	}
	var headers []string
	for _, l := range strings.Split("# HELP vcr_domain_"+rest, "\n") {
		if strings.HasPrefix(l, "# ") {
			headers = append(headers, l)
		}
	}
	var wantHeaders []string
	for _, l := range strings.Split(want, "\n") {
		if strings.HasPrefix(l, "# ") {
			wantHeaders = append(wantHeaders, l)
		}
	}
	if !slices.Equal(headers, wantHeaders) {
		t.Errorf("families in another order:\n%v\nwant\n%v", headers, wantHeaders)
	}
	if !strings.Contains(got.String(), `vcr_scrape_collector_success{collector="libvirt"} 1`) {
		t.Errorf("no scrape metrics for the libvirt collector:\n%s", got.String())
	}
}

type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
