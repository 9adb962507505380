package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal/etcd"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// haTTL is the receivers' ownership lease in these tests (the default is 5 s).
const haTTL = 2 * time.Second

// haEnv is three real vcr-receiver replicas sharing one etcd prefix, a real
// named, the example strategy plugin and an HTTP endpoint for verify.
type haEnv struct {
	t        testing.TB
	etcd     *testenv.EtcdCluster
	named    *testenv.Named
	dir      string
	prefix   string
	ready    atomic.Bool // the recovered endpoint answers 200
	port     int
	replicas []*haReplica
}

type haReplica struct {
	name   string
	url    string
	args   []string
	log    string
	proc   *testenv.Proc
	client *api.Client
}

type haOpts struct {
	services      int    // web0..; default 1
	prepareSleep  string // seconds
	finalizeSleep string // seconds; empty: no finalize command
	grace         string // fencing grace period (the primary's host is unreachable)
	notReady      bool   // the endpoint answers 503 until ready is set
	ttl           time.Duration
	dnsDelay      time.Duration // hold every DNS query and UPDATE this long on its way to named
}

func newHA(t testing.TB, ec *testenv.EtcdCluster, o haOpts) *haEnv {
	t.Helper()
	if o.services == 0 {
		o.services = 1
	}
	e := &haEnv{t: t, etcd: ec, dir: t.TempDir(), prefix: fmt.Sprintf("/ha-%d/", time.Now().UnixNano())}
	records := map[string]string{}
	for i := range o.services {
		records[fmt.Sprintf("web%d", i)] = "127.0.0.9"
	}
	e.named = testenv.StartNamed(t, testenv.NamedOptions{Zone: "vcr.test.", Records: records, TTL: 1})
	e.ready.Store(!o.notReady)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.port = ln.Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !e.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "standby\n")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	plugins := filepath.Join(e.dir, "plugins")
	os.MkdirAll(plugins, 0o755)
	if err := os.Symlink(testenv.Binary(t, "vcr-strategy-example"), filepath.Join(plugins, "vcr-strategy-example")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(e.dir, "token"), []byte("tok\n"), 0o600)
	settings := map[string]any{
		"command": []string{"sh", "-c", fmt.Sprintf("echo x >> %s; echo starting; sleep %s; echo 127.0.0.1 %d",
			filepath.Join(e.dir, "prepares"), orDefaultHA(o.prepareSleep, "0"), e.port)},
		"timeout": "90s",
	}
	if o.finalizeSleep != "" {
		settings["finalize_command"] = []string{"sleep", o.finalizeSleep}
	}
	var services []any
	for i := range o.services {
		services = append(services, map[string]any{
			"name": fmt.Sprintf("web%d", i),
			"primary": map[string]any{"domain": fmt.Sprintf("web%d", i), "address": "127.0.0.1", "port": testenv.FreePort(t),
				"host": map[string]any{"socket": filepath.Join(e.dir, "no-libvirt-here.sock"), "timeout": "1s"}},
			"strategy": map[string]any{"name": "example", "settings": settings},
			"dns":      map[string]any{"name": fmt.Sprintf("web%d.vcr.test.", i), "zone": "vcr.test.", "ttl": 1},
			"check":    map[string]any{"http_path": "/", "timeout": "60s"},
			"fencing":  map[string]any{"grace_period": orDefaultHA(o.grace, "0s")},
		})
	}
	dnsAddr := e.named.Addr
	if o.dnsDelay > 0 {
		dnsAddr = startUDPDelay(t, e.named.Addr, o.dnsDelay)
	}
	for i := range 3 {
		r := &haReplica{name: fmt.Sprintf("r%d", i)}
		cfg := map[string]any{
			"web": map[string]any{"auth": map[string]any{"bearer_token_file": filepath.Join(e.dir, "token")}},
			"journal": map[string]any{"backend": "etcd", "endpoints": ec.Endpoints, "prefix": e.prefix, "replica": r.name,
				"lease_ttl": cmpOr(o.ttl, haTTL).String(), "request_timeout": "2s", "dial_timeout": "3s"},
			"plugins":     map[string]any{"dir": plugins, "timeout": "90s"},
			"pipeline":    map[string]any{"max_attempts": 3, "backoff": "100ms", "max_backoff": "500ms", "switch_timeout": "10s"},
			"dns_servers": []any{map[string]any{"name": "main", "address": dnsAddr, "key_name": e.named.KeyName, "secret_file": e.named.KeyFile, "timeout": "5s"}},
			"services":    services,
		}
		b, _ := yaml.Marshal(cfg)
		cfgPath := filepath.Join(e.dir, r.name+".yml")
		os.WriteFile(cfgPath, b, 0o600)
		addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		r.url = "http://" + addr
		r.args = []string{"--config.file", cfgPath, "--web.listen-address", addr, "--log.level", "debug"}
		r.log = filepath.Join(e.dir, r.name+".log")
		r.client = api.New(r.url, "tok")
		e.replicas = append(e.replicas, r)
		e.start(i)
	}
	return e
}

// startUDPDelay forwards each UDP datagram to target after delay and
// relays the answer: a slow DNS path, so a test can kill a receiver while
// its UPDATE is on the way. A datagram already received is delivered even
// if its sender dies meanwhile, like a packet already on the wire.
func startUDPDelay(t testing.TB, target string, delay time.Duration) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pkt := append([]byte(nil), buf[:n]...)
			go func() {
				time.Sleep(delay)
				up, err := net.Dial("udp", target)
				if err != nil {
					return
				}
				defer up.Close()
				up.Write(pkt)
				up.SetReadDeadline(time.Now().Add(5 * time.Second))
				resp := make([]byte, 65535)
				if m, err := up.Read(resp); err == nil {
					pc.WriteTo(resp[:m], from)
				}
			}()
		}
	}()
	return pc.LocalAddr().String()
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// haHTTP keeps connections to the replicas open across requests, as
// Alertmanager does.
var haHTTP = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func orDefaultHA(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (e *haEnv) start(i int) {
	e.t.Helper()
	r := e.replicas[i]
	r.proc = testenv.StartDaemon(e.t, testenv.DaemonSpec{
		Name: "vcr-receiver-" + r.name, Path: testenv.Binary(e.t, "vcr-receiver"), Args: r.args, Dir: e.dir, Log: r.log,
		Ready: func() error { return testenv.HTTPOK(r.url + "/-/ready") },
	})
}

func (e *haEnv) replica(name string) int {
	for i, r := range e.replicas {
		if r.name == name {
			return i
		}
	}
	e.t.Fatalf("no replica named %q", name)
	return -1
}

func haAlert(service int) string {
	return `{"version":"4","status":"firing","receiver":"vcr","groupKey":"g","alerts":[{"status":"firing",` +
		fmt.Sprintf(`"labels":{"alertname":"VCRDomainShutoff","domain":"web%d"},"startsAt":"2026-01-01T00:00:00Z","fingerprint":"f%d"}]}`, service, service)
}

// post sends a webhook to replica i and returns the status code (0 if the
// request failed).
func (e *haEnv) post(i int, body string) int {
	req, _ := http.NewRequest(http.MethodPost, e.replicas[i].url+"/api/v1/alerts", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := haHTTP.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// postRetry retries 5xx like Alertmanager does, for up to 20 s.
func (e *haEnv) postRetry(i int, body string) int {
	deadline := time.Now().Add(20 * time.Second)
	for {
		code := e.post(i, body)
		if code == 200 || time.Now().After(deadline) {
			return code
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// live returns the index of a replica that runs and answers.
func (e *haEnv) live(skip ...int) int {
	for i, r := range e.replicas {
		if !slices.Contains(skip, i) && !r.proc.Exited() {
			return i
		}
	}
	e.t.Fatal("no live replica")
	return -1
}

// waitIncident polls replica i's API until some incident of service
// satisfies cond.
func (e *haEnv) waitIncident(i int, service, what string, timeout time.Duration, cond func(api.Incident) bool) api.Incident {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var last []api.Incident
	for {
		incs, err := e.replicas[i].client.Incidents(context.Background())
		if err == nil {
			last = incs
			for _, inc := range incs {
				if inc.Service == service && cond(inc) {
					return inc
				}
			}
		}
		if time.Now().After(deadline) {
			var logs strings.Builder
			for _, r := range e.replicas {
				fmt.Fprintf(&logs, "--- %s:\n%s\n", r.name, r.proc.Tail(25))
			}
			e.t.Fatalf("no incident of %s became %s within %s (replica %s sees %+v)\n%s", service, what, timeout, e.replicas[i].name, last, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serial is the zone's SOA serial: named bumps it once per applied UPDATE.
func (e *haEnv) serial() uint32 {
	e.t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("vcr.test.", dns.TypeSOA)
	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, e.named.Addr)
	if err != nil || len(r.Answer) == 0 {
		e.t.Fatalf("SOA query: %v %v", r, err)
	}
	return r.Answer[0].(*dns.SOA).Serial
}

func (e *haEnv) prepares() int {
	b, _ := os.ReadFile(filepath.Join(e.dir, "prepares"))
	return strings.Count(string(b), "x")
}

func (e *haEnv) metric(i int, line string) string {
	resp, err := http.Get(e.replicas[i].url + "/metrics")
	if err != nil {
		return "unreachable"
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, line+" "); ok {
			return v
		}
	}
	return ""
}

func (e *haEnv) journal() *etcd.Journal {
	e.t.Helper()
	j, err := etcd.Open(context.Background(), etcd.Options{Endpoints: e.etcd.Endpoints, Prefix: e.prefix, Replica: "test-reader", LeaseTTL: time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { j.Close() })
	return j
}

func resolved(inc api.Incident) bool { return inc.State == api.StateResolved }

// TestHA runs three receivers on a three-member etcd: duplicate deliveries,
// the owner killed in each phase, the owner frozen past its lease, and etcd
// losing a member and then its quorum.
func TestHA(t *testing.T) {
	if testing.Short() {
		t.Skip("runs etcd, named and three receivers")
	}
	ec := testenv.StartEtcdCluster(t, 3)

	t.Run("same failure at all replicas", func(t *testing.T) {
		e := newHA(t, ec, haOpts{prepareSleep: "0.5"})
		serial0 := e.serial()
		var wg sync.WaitGroup
		var bad atomic.Int32
		for round := range 20 {
			for i := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if code := e.post(i, haAlert(0)); code != 200 {
						bad.Add(1)
						t.Logf("round %d replica %d: %d", round, i, code)
					}
				}()
			}
		}
		wg.Wait()
		if bad.Load() != 0 {
			t.Fatalf("%d deliveries not answered 200", bad.Load())
		}
		inc := e.waitIncident(1, "web0", "resolved", 30*time.Second, resolved)
		// Repeats after the recovery start nothing either.
		for i := range 3 {
			if code := e.post(i, haAlert(0)); code != 200 {
				t.Fatalf("repeat to replica %d: %d", i, code)
			}
		}
		time.Sleep(time.Second)
		for i, r := range e.replicas {
			incs, err := r.client.Incidents(context.Background())
			if err != nil || len(incs) != 1 || incs[0].ID != inc.ID {
				t.Fatalf("replica %d lists %+v (%v), want only %s", i, incs, err, inc.ID)
			}
			if incs[0].Owner == "" {
				t.Errorf("replica %d: incident shows no owner", i)
			}
		}
		if n := e.prepares(); n != 1 {
			t.Errorf("Prepare ran %d times, want 1", n)
		}
		if d := e.serial() - serial0; d != 1 {
			t.Errorf("named applied %d UPDATEs, want 1", d)
		}
		if got := e.named.Lookup(t, "web0.vcr.test."); len(got) != 1 || got[0] != "127.0.0.1" {
			t.Errorf("web0 resolves to %v, want [127.0.0.1]", got)
		}
		alerts, err := e.journal().Alerts(context.Background(), 0)
		if err != nil || len(alerts) != 63 {
			t.Errorf("journal holds %d alerts (%v), want 63", len(alerts), err)
		}
	})

	inState := func(st api.State) func(api.Incident) bool {
		return func(i api.Incident) bool { return i.State == st }
	}
	kills := []struct {
		phase string
		when  func(api.Incident) bool
		opts  haOpts
		after func(e *haEnv)
		time  time.Duration // the phase's own duration
	}{
		{"fence", inState(api.StateFencing), haOpts{grace: "3s"}, nil, 3 * time.Second},
		{"prepare", inState(api.StatePreparing), haOpts{prepareSleep: "3"}, nil, 3 * time.Second},
		{"verify", inState(api.StateVerifying), haOpts{notReady: true}, func(e *haEnv) { e.ready.Store(true) }, 0},
		// The DNS path is slowed to 1 s each way: the first kill lands
		// while the owner reads the RRset (nothing journaled yet), the
		// second after "switch started" is journaled with the UPDATE on
		// its way, which the new owner must find applied and not resend.
		{"switch before the UPDATE", inState(api.StateSwitching), haOpts{dnsDelay: time.Second}, nil, 4 * time.Second},
		{"switch with the UPDATE in flight", func(i api.Incident) bool {
			return i.DNS != nil && i.DNS.SwitchStartedAt != nil && i.DNS.SwitchedAt == nil
		}, haOpts{dnsDelay: time.Second}, nil, 4 * time.Second},
		{"finalize", inState(api.StateFinalizing), haOpts{finalizeSleep: "3"}, nil, 3 * time.Second},
	}
	for _, k := range kills {
		t.Run("owner killed during "+k.phase, func(t *testing.T) {
			e := newHA(t, ec, k.opts)
			serial0 := e.serial()
			if code := e.post(0, haAlert(0)); code != 200 {
				t.Fatalf("webhook: %d", code)
			}
			inc := e.waitIncident(1, "web0", k.phase, 30*time.Second, k.when)
			owner := e.replica(inc.Owner)
			if k.phase == "switch with the UPDATE in flight" {
				// "switch started" is journaled just before the UPDATE
				// leaves; give it a moment to reach the (1 s) slow path.
				time.Sleep(200 * time.Millisecond)
			}
			e.replicas[owner].proc.Kill()
			killed := time.Now()
			if k.after != nil {
				k.after(e)
			}
			other := e.live(owner)
			done := e.waitIncident(other, "web0", "resolved", haTTL+k.time+20*time.Second, resolved)
			took := time.Since(killed)
			t.Logf("killed %s during %s; %s completed the incident %s later", inc.Owner, k.phase, done.Owner, took.Round(time.Millisecond))
			if done.Owner == inc.Owner || done.Owner == "" {
				t.Errorf("owner after the kill = %q, want another replica than %s", done.Owner, inc.Owner)
			}
			if d := e.serial() - serial0; d != 1 {
				t.Errorf("named applied %d UPDATEs, want 1", d)
			}
			if got := e.named.Lookup(t, "web0.vcr.test."); len(got) != 1 || got[0] != "127.0.0.1" {
				t.Errorf("web0 resolves to %v, want [127.0.0.1]", got)
			}
			if v := e.metric(e.replica(done.Owner), "vcr_receiver_takeovers_total"); v != "1" {
				t.Errorf("vcr_receiver_takeovers_total on %s = %q, want 1", done.Owner, v)
			}
			if ph := done.Phase(api.PhaseSwitch); k.phase == "switch with the UPDATE in flight" &&
				(ph == nil || !strings.Contains(strings.Join(ph.Messages, "\n"), "not sending it again")) {
				t.Errorf("the new owner did not find the in-flight UPDATE applied; switch phase: %+v", ph)
			}
			if k.phase != "prepare" && k.phase != "fence" {
				if n := e.prepares(); n != 1 {
					t.Errorf("Prepare ran %d times, want 1 (it had completed before the kill)", n)
				}
			}
		})
	}

	t.Run("frozen owner is fenced", func(t *testing.T) {
		e := newHA(t, ec, haOpts{prepareSleep: "4"})
		serial0 := e.serial()
		if code := e.post(0, haAlert(0)); code != 200 {
			t.Fatalf("webhook: %d", code)
		}
		inc := e.waitIncident(1, "web0", "preparing", 30*time.Second, func(i api.Incident) bool { return i.State == api.StatePreparing })
		old := e.replica(inc.Owner)
		oldProc := e.replicas[old].proc
		if err := oldProc.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		stopped := true
		defer func() {
			if stopped {
				oldProc.Signal(syscall.SIGCONT)
			}
		}()
		other := e.live(old)
		done := e.waitIncident(other, "web0", "resolved by another replica", 40*time.Second, func(i api.Incident) bool {
			return resolved(i) && i.Owner != inc.Owner
		})
		serial1 := e.serial()
		oldProc.Signal(syscall.SIGCONT)
		stopped = false
		// The old owner's plugin finished while it was frozen: on waking it
		// holds a prepared endpoint and would go on to verify and switch.
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(oldProc.Tail(200), "lost ownership") && !strings.Contains(oldProc.Tail(200), "etcd lease lost") {
			if time.Now().After(deadline) {
				t.Fatalf("the old owner never noticed it lost the incident; its log:\n%s", oldProc.Tail(30))
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(2 * time.Second)
		if s := e.serial(); s != serial1 || s-serial0 != 1 {
			t.Errorf("zone serial %d → %d → %d: want exactly one UPDATE, none from the old owner", serial0, serial1, s)
		}
		if v := e.metric(old, `vcr_dns_updates_total{result="success",service="web0"}`); v != "" {
			t.Errorf("the old owner sent UPDATEs: %s", v)
		}
		after, err := e.replicas[other].client.Incident(context.Background(), inc.ID)
		if err != nil || after.Revision != done.Revision || after.Owner != done.Owner {
			t.Errorf("incident changed after the old owner woke: revision %d → %d, owner %s → %s (%v)", done.Revision, after.Revision, done.Owner, after.Owner, err)
		}
	})

	t.Run("etcd member loss and quorum loss", func(t *testing.T) {
		e := newHA(t, ec, haOpts{services: 3, prepareSleep: "1.5"})
		serial0 := e.serial()
		accepted := 0
		ec.Kill(0)
		if code := e.postRetry(1, haAlert(0)); code != 200 {
			t.Fatalf("with one etcd member down the webhook answers %d", code)
		}
		accepted++
		e.waitIncident(2, "web0", "resolved", 30*time.Second, resolved)
		// An incident is preparing when the quorum goes: its next journal
		// write fails, and it must resume once etcd is back.
		if code := e.postRetry(0, haAlert(2)); code != 200 {
			t.Fatalf("webhook: %d", code)
		}
		accepted++
		e.waitIncident(1, "web2", "preparing", 30*time.Second, func(i api.Incident) bool { return i.State == api.StatePreparing })
		ec.Kill(1)
		for i := range 3 {
			code := e.post(i, haAlert(1))
			if code == 200 {
				accepted++
				t.Errorf("replica %d accepted an alert without etcd quorum", i)
			} else if code < 500 {
				t.Errorf("replica %d answered %d without quorum, want 5xx so Alertmanager retries", i, code)
			}
		}
		time.Sleep(2 * time.Second) // the prepare ends meanwhile; its write fails
		ec.Restart(0)
		ec.Restart(1)
		ec.WaitHealthy(30 * time.Second)
		// Alertmanager's retry now gets through.
		if code := e.postRetry(2, haAlert(1)); code != 200 {
			t.Fatalf("after quorum returned the webhook answers %d", code)
		}
		accepted++
		e.waitIncident(0, "web1", "resolved", 40*time.Second, resolved)
		e.waitIncident(0, "web2", "resolved after the quorum returned", 40*time.Second, resolved)
		for _, r := range e.replicas {
			for _, l := range strings.Split(r.proc.Tail(400), "\n") {
				if strings.Contains(l, "pausing") || strings.Contains(l, "took over") || strings.Contains(l, "lease lost") {
					t.Logf("%s: %s", r.name, strings.TrimSpace(l))
				}
			}
		}
		if d := e.serial() - serial0; d != 3 {
			t.Errorf("named applied %d UPDATEs, want 3 (one per service)", d)
		}
		// A write that timed out without quorum may still commit once the
		// quorum is back (etcd cannot say): such an alert is journaled
		// although answered 503, and its retry journals it again. Never
		// fewer than the accepted ones, though.
		alerts, err := e.journal().Alerts(context.Background(), 0)
		if err != nil || len(alerts) < accepted {
			t.Errorf("journal holds %d alerts (%v); %d were answered 200", len(alerts), err, accepted)
		}
	})
}

// BenchmarkHAIngest posts the same failure round-robin to three replicas
// journaling in a three-member etcd: each iteration sends 2,000 deliveries
// from 16 concurrent senders (whatever b.N is, like the single-replica
// benchmark), each answered 200 only after its etcd transaction. It reports
// alerts/s and the p50/p99 request latency.
func BenchmarkHAIngest(b *testing.B) {
	const total, senders = 2000, 16
	ec := testenv.StartEtcdCluster(b, 3)
	e := newHA(b, ec, haOpts{})
	body := haAlert(0)
	var rates, p50s, p99s []float64
	for range b.N {
		var next, failed atomic.Int64
		lat := make([]time.Duration, total)
		var wg sync.WaitGroup
		start := time.Now()
		for range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n := next.Add(1) - 1
					if n >= total {
						return
					}
					t0 := time.Now()
					if code := e.post(int(n%3), body); code != 200 {
						if failed.Add(1) == 1 {
							b.Logf("replica %d answered %d; its log:\n%s", n%3, code, e.replicas[n%3].proc.Tail(5))
						}
					}
					lat[n] = time.Since(t0)
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		if failed.Load() > 0 {
			b.Fatalf("%d of %d deliveries not answered 200", failed.Load(), total)
		}
		slices.Sort(lat)
		rates = append(rates, total/elapsed.Seconds())
		p50s = append(p50s, float64(lat[total/2].Microseconds())/1000)
		p99s = append(p99s, float64(lat[total*99/100].Microseconds())/1000)
	}
	incs, err := e.replicas[0].client.Incidents(context.Background())
	if err != nil || len(incs) != 1 {
		b.Fatalf("the storm left %d incidents (%v), want 1", len(incs), err)
	}
	med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	b.ReportMetric(med(rates), "alerts/s")
	b.ReportMetric(med(p50s), "p50-ms")
	b.ReportMetric(med(p99s), "p99-ms")
}

// BenchmarkHATakeover SIGKILLs the owner of a running incident (in a long
// prepare) ten times, each time restarting it, and measures how long until
// another replica has adopted the incident and journaled its first write as
// owner, with the default 5 s lease.
func BenchmarkHATakeover(b *testing.B) {
	const kills = 10
	ec := testenv.StartEtcdCluster(b, 3)
	var times []time.Duration
	for range b.N {
		b.StopTimer()
		e := newHA(b, ec, haOpts{services: kills, prepareSleep: "300", ttl: 5 * time.Second})
		b.StartTimer()
		for k := range kills {
			svc := fmt.Sprintf("web%d", k)
			if code := e.post(k%3, haAlert(k)); code != 200 {
				b.Fatalf("webhook: %d", code)
			}
			watcher := (k + 1) % 3
			inc := e.waitIncident(watcher, svc, "preparing", 30*time.Second, func(i api.Incident) bool { return i.State == api.StatePreparing })
			owner := e.replica(inc.Owner)
			e.replicas[owner].proc.Kill()
			killed := time.Now()
			if owner == watcher {
				watcher = (owner + 1) % 3
			}
			e.waitIncident(watcher, svc, "taken over", 30*time.Second, func(i api.Incident) bool { return i.Owner != inc.Owner && i.Owner != "" })
			times = append(times, time.Since(killed))
			e.start(owner)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	p99 := times[min(len(times)-1, len(times)*99/100)]
	b.ReportMetric(times[len(times)/2].Seconds(), "median-takeover-s")
	b.ReportMetric(p99.Seconds(), "p99-takeover-s")
	b.Logf("takeover after SIGKILL, lease 5s, %d kills: median %s, p99 %s, all %v", len(times), times[len(times)/2].Round(time.Millisecond), p99.Round(time.Millisecond), times)
}
