package main

// The database scenario: a real MariaDB survives its VM. A row written on
// the primary before `virsh destroy` is read back through the service's name
// once DNS points at the standby container, whose replica vcr-sync promoted.

import (
	"context"
	"os"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/test/system"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

func databaseScript(r *testenv.Runner, logPath string, hold bool, stop chan os.Signal) {
	say("VCRcovery demo: a real database survives its VM. Details in %s\n", logPath)
	say("▸ booting a QEMU VM (TCG) running MariaDB, a standby container with its replica,")
	say("  vcr-sync, named, LXD, Alertmanager, vcr-exporter, vcr-receiver…")
	begin := time.Now()
	sys := system.Start(r, system.Options{
		FastPath: true,
		Services: []system.ServiceSpec{{Name: "db", Strategy: "warm", Real: system.RealMariaDB}},
		Logf:     func(f string, a ...any) { say("  "+f, a...) },
	})
	say("  ready in %s\n", time.Since(begin).Round(100*time.Millisecond))
	svc := sys.Service(r, "db")
	say("── %s (warm standby: a GTID replica in the container, kept by vcr-sync)", svc.DNSName)

	addr := sys.SQLAddr(r, "db")
	db := system.OpenSQL(addr)
	note := "written before virsh destroy at " + time.Now().Format("15:04:05.000")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	_, err := db.ExecContext(ctx, "INSERT INTO "+system.OrdersTable+" VALUES (1, ?)", note)
	cancel()
	db.Close()
	if err != nil {
		r.Fatalf("insert through %s: %v", addr, err)
	}
	say("1  mysql -h %-16s INSERT INTO %s VALUES (1, %q)", addr, system.OrdersTable, note)
	// The commit is on the primary; the replica receives it within
	// milliseconds, but a demo should not race a failure against it.
	standby := system.OpenSQL(sys.StandbyContainer(r, "db").MySQLAddr())
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var n int
		if err := standby.QueryRow("SELECT COUNT(*) FROM " + system.OrdersTable).Scan(&n); err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			r.Fatalf("the row did not reach the standby's replica within a minute; see %s", sys.SyncProc.Log)
		}
	}
	standby.Close()

	destroyed := sys.FailPrimary(r, "db")
	say("2  virsh destroy %s", svc.Domain)
	inc := watch(r, sys, "db", destroyed, func(i api.Incident) bool { return i.Kind == api.KindFailover })
	if d := inc.Endpoint; d != nil {
		say("   vcr-sync promoted the replica at GTID %s (replica lag %s s when promoted); verify ran a query", d.Details["sync_gtid"], d.Details["sync_lag_seconds"])
	}
	addr = sys.SQLAddr(r, "db")
	db = system.OpenSQL(addr)
	var got string
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	err = db.QueryRowContext(ctx, "SELECT note FROM "+system.OrdersTable+" WHERE id = 1").Scan(&got)
	cancel()
	db.Close()
	if err != nil {
		r.Fatalf("read back through %s: %v", addr, err)
	}
	say("3  dig +short %s → %s; SELECT note … WHERE id = 1 → %q", svc.DNSName, addr, got)
	if got != note {
		r.Fatalf("read back %q, want %q", got, note)
	}
	if inc.ClosedAt != nil {
		say("   the row survived; recovered %s after the destroy\n", inc.ClosedAt.Sub(destroyed).Round(time.Millisecond))
	}
	say("   vcr-sync         %s/api/v1/services/db", sys.SyncURL)
	say("   status page      %s/   (user %s, password %s)", sys.ReceiverURL, system.OperatorUser, system.OperatorPassword)
	if !hold {
		return
	}
	say("\nrunning until Ctrl-C or `make demo-down`")
	<-stop
}
