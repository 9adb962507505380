package exporter

import (
	"context"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/exporter/inventory"
	"github.com/vcrcovery/vcrcovery/exporter/lifecycle"
	"github.com/vcrcovery/vcrcovery/internal/virt"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// readOnlySocket is libvirtd's read-only socket, the one
// deploy/systemd/vcr-exporter.service points the exporter at.
const readOnlySocket = "/run/libvirt/libvirt-sock-ro"

// Every call the exporter makes works on a read-only connection: the bulk
// stats, lifecycle events, domain XML, job stats and storage pools. Nothing
// the exporter does needs the writable socket.
func TestIntegrationReadOnlySocket(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test (needs libvirtd)")
	}
	lv := testenv.Libvirt(t)
	td := lv.TestDriver(t)
	uuid, name := td.DefineNamed(t, "")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := lifecycle.LibvirtDialer(readOnlySocket, td.URI, 5*time.Second)(ctx)
	if err != nil {
		t.Fatalf("dial %s: %v", readOnlySocket, err)
	}
	defer c.Disconnect()
	if _, err := c.LifecycleEvents(ctx); err != nil {
		t.Errorf("lifecycle events on the read-only socket: %v", err)
	}
	recs, err := c.ConnectGetAllDomainStats(nil, uint32(libvirt.DomainStatsState|libvirt.DomainStatsCPUTotal|libvirt.DomainStatsBalloon|
		libvirt.DomainStatsVCPU|libvirt.DomainStatsInterface|libvirt.DomainStatsBlock), lifecycle.StatsFlags)
	if err != nil {
		t.Fatalf("stats on the read-only socket: %v", err)
	}
	var doms []inventory.Domain
	for _, r := range recs {
		doms = append(doms, inventory.Domain{Dom: r.Dom, UUID: virt.FormatUUID(r.Dom.UUID), Running: true})
	}
	if _, _, err := c.ConnectListAllStoragePools(1, 0); err != nil {
		t.Errorf("list storage pools on the read-only socket: %v", err)
	}
	inv := inventory.New(inventory.Options{JobInterval: time.Minute, PoolInterval: time.Minute})
	inv.Refresh(ctx, c, doms)
	info := inv.Info(uuid)
	if info == nil || info.OSType != "hvm" {
		t.Fatalf("domain %s XML over the read-only socket: %+v", name, info)
	}
	if p := inv.Pools(); len(p) == 0 {
		t.Errorf("no storage pool of the test driver read: %+v", p)
	}
	if _, ok := inv.Job(uuid); !ok {
		t.Logf("the test driver reports no jobs (VIR_ERR_NO_SUPPORT): vcr_domain_job_* stay empty there")
	}
}
