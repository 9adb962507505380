package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/test/system"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// A real MariaDB (warm: a GTID replica in the standby container, promoted by
// vcr-sync before verify, verified with a query) and a real Apache (cold: an
// LXD export restored, then the newest data backup applied) lose their VMs;
// the rows and the file written before are served afterwards through the
// switched names. Then the database fails back to its rebooted VM without
// losing what the standby took meanwhile, and the standby follows it again.
func TestRealServicesKeepTheirData(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: boots two QEMU primaries with Apache and MariaDB, LXD, named, Alertmanager, vcr-sync and the receiver")
	}
	sys := system.Start(t, system.Options{
		FastPath: true,
		Services: []system.ServiceSpec{
			{Name: "db", Strategy: "warm", Real: system.RealMariaDB},
			{Name: "web", Strategy: "cold", Real: system.RealApache},
		},
	})
	primaryDB := system.OpenSQL(sys.Primary(t, "db").MySQLAddr())
	defer primaryDB.Close()
	standbyDB := system.OpenSQL(sys.StandbyContainer(t, "db").MySQLAddr())
	defer standbyDB.Close()

	// Data written before the failures: rows committed on the primary (and
	// replicated: the RPO is measured by the benchmark), a page on the web
	// server (in the data backup the schedule would take).
	for i := 1; i <= 20; i++ {
		execSQL(t, primaryDB, "INSERT INTO "+system.OrdersTable+" VALUES (?, 'before the failure')", i)
	}
	waitCount(t, standbyDB, 20, time.Minute)
	sys.AdminSSH(t, sys.Primary(t, "web").Address, "echo 'orders page, before the failure' > "+system.WebRoot+"/orders.html")
	sys.SyncNow(t, "web", "backup")

	t.Run("warm: the database", func(t *testing.T) {
		inc := failoverReal(t, sys, "db")
		d := inc.Endpoint.Details
		if d["sync_gtid"] == "" || d["sync_lag_seconds"] == "" {
			t.Errorf("the incident does not record the promotion's GTID and lag: %v", d)
		}
		if v := inc.Phase(api.PhaseVerify); v == nil || !hasNote(v, "MySQL query") {
			t.Errorf("verify did not run the MySQL query: %+v", v)
		}
		db := system.OpenSQL(sys.SQLAddr(t, "db"))
		defer db.Close()
		if n := count(t, db); n != 20 {
			t.Fatalf("through the switched name: %d rows, want the 20 written before the failure", n)
		}
		// The promoted replica takes writes.
		execSQL(t, db, "INSERT INTO "+system.OrdersTable+" VALUES (21, 'on the standby')")
		t.Logf("db: promoted at GTID %s with lag %s s; %s", d["sync_gtid"], d["sync_lag_seconds"], phaseLine(inc))
		// The repaired VM boots while the web server fails over.
		sys.BootPrimary(t, "db")
	})

	t.Run("cold: the web server", func(t *testing.T) {
		inc := failoverReal(t, sys, "web")
		if inc.Endpoint.Details["data_backup"] == "" {
			t.Errorf("the incident does not record the data backup applied: %v", inc.Endpoint.Details)
		}
		addrs := sys.Resolve(t, "web")
		page, err := getURL(fmt.Sprintf("http://%s:%d/orders.html", addrs[0], testenv.HTTPPort))
		if err != nil || page != "orders page, before the failure\n" {
			t.Fatalf("GET orders.html through the switched name: %q, %v", page, err)
		}
		t.Logf("web: restored %s with data %s; %s", inc.Endpoint.Details["backup"], inc.Endpoint.Details["data_backup"], phaseLine(inc))
	})

	t.Run("failback: the database", func(t *testing.T) {
		sys.WaitPrimary(t, "db")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		started, err := sys.Client.Failback(ctx, "db")
		if err != nil {
			t.Fatalf("failback: %v", err)
		}
		inc := sys.WaitIncident(t, "db", 3*time.Minute, func(i api.Incident) bool { return i.ID == started.ID && system.Ended(i) })
		if inc.State != api.StateResolved {
			t.Fatalf("failback %s ended %s: %s\nvcr-sync log:\n%s", inc.ID, inc.State, inc.Error, sys.SyncProc.Tail(30))
		}
		if got := sys.Resolve(t, "db"); len(got) != 1 || got[0] != sys.Primary(t, "db").Address {
			t.Fatalf("db resolves to %v after the failback, want the primary %s", got, sys.Primary(t, "db").Address)
		}
		db := system.OpenSQL(sys.SQLAddr(t, "db"))
		defer db.Close()
		if n := count(t, db); n != 21 {
			t.Fatalf("the primary holds %d rows after the failback, want 21 (the row written on the standby included)", n)
		}
		execSQL(t, db, "INSERT INTO "+system.OrdersTable+" VALUES (22, 'after the failback')")
		waitCount(t, standbyDB, 22, time.Minute) // the standby follows the primary again
		t.Logf("failback: %s", phaseLine(inc))
	})
}

// failoverReal destroys a real service's VM and waits for its failover to
// resolve, with every phase ok.
func failoverReal(t *testing.T, sys *system.System, name string) api.Incident {
	t.Helper()
	destroyed := sys.FailPrimary(t, name)
	inc := sys.WaitIncident(t, name, 3*time.Minute, func(i api.Incident) bool {
		return i.Kind == api.KindFailover && system.Ended(i) && i.OpenedAt.After(destroyed.Add(-time.Second))
	})
	if inc.State != api.StateResolved || inc.Endpoint == nil {
		t.Fatalf("incident %s for %s ended %s: %s\nvcr-sync log:\n%s", inc.ID, name, inc.State, inc.Error, sys.SyncProc.Tail(30))
	}
	for _, ph := range []string{api.PhaseFence, api.PhasePrepare, api.PhaseVerify, api.PhaseSwitch} {
		if p := inc.Phase(ph); p == nil || p.Outcome != api.OutcomeOK {
			t.Errorf("phase %s of %s: %+v", ph, inc.ID, p)
		}
	}
	t.Logf("%s: destroy to closed %s", name, inc.ClosedAt.Sub(destroyed).Round(time.Millisecond))
	return inc
}

func hasNote(p *api.Phase, sub string) bool {
	for _, m := range p.Messages {
		if strings.Contains(m, sub) {
			return true
		}
	}
	return false
}

// getURL fetches url with a short timeout; anything but 200 is an error.
func getURL(url string) (string, error) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

func execSQL(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func count(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	var err error
	// A just-switched name may reach a server still closing old connections.
	for range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+system.OrdersTable).Scan(&n)
		cancel()
		if err == nil {
			return n
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("count rows: %v", err)
	return 0
}

func waitCount(t *testing.T, db *sql.DB, want int, timeout time.Duration) {
	t.Helper()
	var n int
	var err error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+system.OrdersTable).Scan(&n)
		cancel()
		if err == nil && n >= want {
			return
		}
	}
	t.Fatalf("%d rows (%v) after %s, want %d", n, err, timeout, want)
}
