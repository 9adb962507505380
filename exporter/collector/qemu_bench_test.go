package collector

import (
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/exporter/lifecycle"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// BenchmarkQEMUStats measures the part of a scrape that the test driver,
// which reports only states, cannot stand in for: libvirtd answering the
// one ConnectGetAllDomainStats call, every group, for real QEMU (TCG)
// domains, and go-libvirt decoding the reply. It boots three guests like
// TestQEMUDomainGolden's (disk, tap interface, virtio balloon) and times
// the call with one of them running and with all three: the difference is
// the cost of a domain (µs/domain), the rest the call's fixed cost. A
// 1,000-domain scrape costs about fixed + 1,000 × per-domain plus
// BenchmarkCollect's text+gzip (docs/benchmarks.md, "Exporter").
func BenchmarkQEMUStats(b *testing.B) {
	lv := testenv.Libvirt(b)
	conn := lv.Connect(b, "qemu:///system")
	dir := b.TempDir()
	_ = os.Chmod(dir, 0o755)
	var doms []libvirt.Domain
	for i := 1; i <= 3; i++ {
		vm := lv.StartVM(b, testenv.VMOptions{Name: testenv.UniqueName(b, fmt.Sprintf("vcrbench%d-", i)),
			Devices: qemuDevices(b, dir, i), MemoryMiB: 128})
		doms = append(doms, vm.Domain(b, conn))
	}
	waitBalloonStats(b, conn, doms...)
	call := func(ds []libvirt.Domain, groups uint32) time.Duration {
		lat := make([]time.Duration, 0, 41)
		for i := 0; i < cap(lat); i++ {
			start := time.Now()
			recs, err := conn.ConnectGetAllDomainStats(ds, groups, lifecycle.StatsFlags)
			if err != nil || len(recs) != len(ds) {
				b.Fatalf("stats: %v (%d records for %d domains)", err, len(recs), len(ds))
			}
			lat = append(lat, time.Since(start))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return lat[len(lat)/2]
	}
	b.ResetTimer()
	one, three := call(doms[:1], statsGroups), call(doms, statsGroups)
	b.StopTimer()
	per := (three - one) / 2
	// Each group alone, per domain (three domains), to see where libvirtd spends it.
	for _, g := range []struct {
		name  string
		group libvirt.DomainStatsTypes
	}{{"state", libvirt.DomainStatsState}, {"cpu", libvirt.DomainStatsCPUTotal}, {"balloon", libvirt.DomainStatsBalloon},
		{"vcpu", libvirt.DomainStatsVCPU}, {"interface", libvirt.DomainStatsInterface}, {"block", libvirt.DomainStatsBlock}} {
		b.ReportMetric(float64(call(doms, uint32(g.group)).Microseconds())/3, "µs/domain-"+g.name)
	}
	b.ReportMetric(float64(one.Microseconds()), "µs/call-1-domain")
	b.ReportMetric(float64(three.Microseconds()), "µs/call-3-domains")
	b.ReportMetric(float64(per.Microseconds()), "µs/domain")
	b.ReportMetric(float64((one - per).Microseconds()), "µs/call-fixed")
	b.ReportMetric(0, "ns/op")
}
