package main

// The experiment: one run of the four services per strategy (each on a
// system of its own, stopped before the next: both use the standby's
// addresses), then the conventional system's standby VM.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/vcrcovery/vcrcovery/dnsupdate"
	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/test/system"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// The paper's four primaries: three web servers and one database.
var services = []struct{ name, real string }{
	{"db", system.RealMariaDB}, {"web1", system.RealApache}, {"web2", system.RealApache}, {"web3", system.RealApache},
}

// recovery is one service's failover, timed from the destroy.
type recovery struct {
	service, real string
	dns, first    time.Duration // to the DNS answer changing; to the first successful request or query
	detectFence   time.Duration // the incident's detection and fencing, which a conventional system shares
}

// results are what the run measured.
type results struct {
	warm, cold           []recovery
	warmRPO, coldRPO     rpoResult
	convBoot             time.Duration // a standby VM booted until Apache, MariaDB and SSH answer
	convSwitch           time.Duration // DNS switched to a running standby VM
	convFirstWeb, convDB time.Duration // then the first request, the first query
	conventional         bool
}

func bench(r *testenv.Runner, conventional bool) results {
	var res results
	res.warm, res.warmRPO = runStrategy(r, "warm")
	res.cold, res.coldRPO = runStrategy(r, "cold")
	if conventional {
		res.conventional = true
		res.convBoot, res.convSwitch, res.convFirstWeb, res.convDB = conventionalStandby(r)
	}
	return res
}

// runStrategy starts the four services with strategy, writes rows to the
// database until its VM is destroyed, and fails each primary in turn.
func runStrategy(parent *testenv.Runner, strategy string) ([]recovery, rpoResult) {
	r := testenv.NewRunner(parent.TempDir(), parent.Logf)
	defer r.Close()
	var specs []system.ServiceSpec
	for _, s := range services {
		specs = append(specs, system.ServiceSpec{Name: s.name, Strategy: strategy, Real: s.real})
	}
	progress("%s: booting four primaries (QEMU TCG) and their standby containers…", strategy)
	begin := time.Now()
	sys := system.Start(r, system.Options{FastPath: true, Services: specs, Logf: func(f string, a ...any) { r.Logf(f, a...) }})
	progress("%s: system up in %s", strategy, time.Since(begin).Round(time.Second))
	dc := system.DNSClient(r, sys.Named)

	w := startWriter(system.OpenSQL(sys.Primary(r, "db").MySQLAddr()))
	time.Sleep(3 * time.Second)
	var backupAt time.Time
	if strategy == "cold" {
		// The scheduled backup, taken now: what a cold standby can restore.
		backupAt = time.Now()
		sys.SyncNow(r, "db", "backup")
		time.Sleep(2 * time.Second)
	}
	var out []recovery
	var rpo rpoResult
	for _, s := range services {
		before := sys.Resolve(r, s.name)
		destroyed := sys.FailPrimary(r, s.name)
		if s.name == "db" {
			w.stop()
		}
		rec := measure(r, sys, dc, s.name, s.real, before, destroyed)
		out = append(out, rec)
		progress("%s %s: DNS %s, first %s after the destroy", strategy, s.name, rec.dns.Round(time.Millisecond), rec.first.Round(time.Millisecond))
		if s.name == "db" {
			rpo = w.check(r, sys.SQLAddr(r, "db"), destroyed)
			rpo.backupAge = 0
			if !backupAt.IsZero() {
				rpo.backupAge = destroyed.Sub(backupAt)
			}
			progress("%s RPO: %s", strategy, rpo)
		}
	}
	return out, rpo
}

// measure polls the authoritative DNS answer until it changes, then the new
// address until a request (Apache) or a query (MariaDB) succeeds.
func measure(r *testenv.Runner, sys *system.System, dc *dnsupdate.Client, name, real string, before []string, destroyed time.Time) recovery {
	svc := sys.Service(r, name)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rec := recovery{service: name, real: real}
	var db *sql.DB
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	for ctx.Err() == nil && rec.first == 0 {
		addrs, err := dc.Lookup(ctx, svc.DNSName)
		if err == nil && len(addrs) == 1 && !slices.Contains(before, addrs[0].String()) {
			if rec.dns == 0 {
				rec.dns = time.Since(destroyed)
			}
			if real == system.RealMariaDB {
				if db == nil {
					db = system.OpenSQL(net.JoinHostPort(addrs[0].String(), fmt.Sprint(testenv.MySQLPort)))
				}
				if queryOK(ctx, db) {
					rec.first = time.Since(destroyed)
				}
			} else if getOK("http://" + net.JoinHostPort(addrs[0].String(), fmt.Sprint(testenv.HTTPPort)) + "/") {
				rec.first = time.Since(destroyed)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	inc := sys.WaitIncident(r, name, time.Minute, func(i api.Incident) bool {
		return i.Kind == api.KindFailover && system.Ended(i) && i.OpenedAt.After(destroyed.Add(-time.Second))
	})
	if inc.State != api.StateResolved || rec.first == 0 {
		r.Fatalf("%s failover: incident %s %s (%s), first success after %s", name, inc.ID, inc.State, inc.Error, rec.first)
	}
	rec.detectFence = inc.OpenedAt.Sub(destroyed)
	if p := inc.Phase(api.PhaseFence); p != nil {
		rec.detectFence += time.Duration(p.DurationSeconds * float64(time.Second))
	}
	return rec
}

func queryOK(ctx context.Context, db *sql.DB) bool {
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var n int
	return db.QueryRowContext(qctx, "SELECT COUNT(*) FROM "+system.OrdersTable).Scan(&n) == nil
}

func getOK(url string) bool {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// conventionalStandby measures the conventional system's standby side: a
// standby VM of its own booted from the same rootfs until its services
// answer (cold: booted at the failure), and DNS switched to a running one
// followed by the first request and query (warm: it ran all along). The
// detection and fencing before both are the same machinery as VCRcovery's,
// and are added from its run.
func conventionalStandby(r *testenv.Runner) (boot, sw, firstWeb, firstDB time.Duration) {
	progress("conventional: booting a standby VM of its own…")
	lv := testenv.Libvirt(r)
	testenv.ServiceDisk(r) // built and cached outside the timing
	begin := time.Now()
	vm := lv.StartServiceVM(r, testenv.ServiceVMOptions{})
	boot = time.Since(begin)
	named := testenv.StartNamed(r, testenv.NamedOptions{Zone: system.Zone, Records: map[string]string{"conv": "127.0.0.10"}, TTL: 1})
	dc := system.DNSClient(r, named)
	begin = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := dc.Replace(ctx, system.Zone, "conv."+system.Zone, 1, []netip.Addr{netip.MustParseAddr(vm.Address)}); err != nil {
		r.Fatalf("switch to the standby VM: %v", err)
	}
	sw = time.Since(begin)
	begin = time.Now()
	for !getOK("http://" + vm.HTTPAddr() + "/") {
		time.Sleep(5 * time.Millisecond)
	}
	firstWeb = time.Since(begin)
	db := system.OpenSQL(vm.MySQLAddr())
	defer db.Close()
	begin = time.Now()
	var err error
	for {
		qctx, qcancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = db.PingContext(qctx)
		qcancel()
		// A fresh VM has no account for us: a refused login is the server
		// answering, which is what is timed here.
		var me *mysql.MySQLError
		if err == nil || errors.As(err, &me) || time.Since(begin) > time.Minute {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	firstDB = time.Since(begin)
	progress("conventional: boot %s, switch %s, first request %s, first login %s", boot.Round(time.Millisecond), sw.Round(time.Millisecond), firstWeb.Round(time.Millisecond), firstDB.Round(time.Millisecond))
	return boot, sw, firstWeb, firstDB
}
