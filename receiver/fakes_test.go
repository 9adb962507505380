package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
	"github.com/vcrcovery/vcrcovery/receiver/pipeline"
)

const testConfig = `
pipeline: {max_attempts: 3, backoff: 10ms, max_backoff: 40ms}
dns_servers:
  - {name: main, address: "127.0.0.1:5353", key_name: k., secret_file: /dev/null}
services:
  - name: web
    primary:
      domain: web01
      uuid: 6695eb01-f6a4-8304-79aa-97f2502e193f
      host: {name: hv1, socket: /run/libvirt/libvirt-sock}
      address: 127.0.0.10
      port: 8080
    strategy: {name: warm, settings: {container: web}}
    scaleup: {name: scaleup}
    dns: {name: web.example.test., zone: example.test.}
    fencing: {grace_period: 1s}
  - name: db
    primary: {domain: db01, host: {name: hv1, socket: /x}, address: 127.0.0.11, port: 5432}
    strategy: {name: cold}
    dns: {name: db.example.test., zone: example.test.}
`

type fakeFencer struct {
	mu    sync.Mutex
	calls int
	err   error
}

func (f *fakeFencer) Fence(ctx context.Context, host config.Host, domain, uuid string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return "", f.err
	}
	return "destroyed", nil
}

type fakeStrategies struct {
	mu        sync.Mutex
	prepares  int
	finalizes int
	aborts    []sdk.AbortRequest
	err       error
	abortErr  error
	block     chan struct{} // if set, Prepare waits for it to close
	started   chan struct{} // if set, closed when the first Prepare starts
	endpoint  sdk.Endpoint
	lastReq   sdk.PrepareRequest
	names     []string // strategy names, in call order
	services  []string // services, in call order
	running   int      // prepares in progress
	peak      int      // most prepares in progress at once
	delay     time.Duration
}

func (f *fakeStrategies) Prepare(ctx context.Context, name string, req sdk.PrepareRequest, progress sdk.ProgressFunc) (sdk.Endpoint, error) {
	f.mu.Lock()
	f.prepares++
	f.lastReq = req
	f.names = append(f.names, name)
	f.services = append(f.services, req.Service)
	f.running++
	f.peak = max(f.peak, f.running)
	block, started, err, ep, delay := f.block, f.started, f.err, f.endpoint, f.delay
	if started != nil {
		close(started)
		f.started = nil
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.running--
		f.mu.Unlock()
	}()
	if progress != nil {
		progress(sdk.Progress{Time: time.Now(), Message: "container started"})
	}
	time.Sleep(delay)
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return sdk.Endpoint{}, ctx.Err()
		}
	}
	if err != nil {
		return sdk.Endpoint{}, err
	}
	if ep.Address == "" {
		ep = sdk.Endpoint{Address: "127.0.0.2", Port: 8080}
	}
	return ep, nil
}

func (f *fakeStrategies) Finalize(ctx context.Context, name string, req sdk.FinalizeRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finalizes++
	return nil
}

func (f *fakeStrategies) Abort(ctx context.Context, name string, req sdk.AbortRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.aborts = append(f.aborts, req)
	return f.abortErr
}

func (f *fakeStrategies) abortCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.aborts)
}

func (f *fakeStrategies) ValidateConfig(ctx context.Context, name string, req sdk.ValidateRequest) error {
	return nil
}

func (f *fakeStrategies) counts() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.prepares, f.finalizes
}

type fakeProber struct {
	primaryAnswers atomic.Bool
	waitErr        error
}

func (p *fakeProber) Once(ctx context.Context, c pipeline.Check) error {
	if p.primaryAnswers.Load() {
		return nil
	}
	return errors.New("connection refused")
}

func (p *fakeProber) Wait(ctx context.Context, c pipeline.Check) error { return p.waitErr }

type fakeDNS struct {
	mu       sync.Mutex
	replaces int
	records  map[string][]netip.Addr
	err      error
	started  chan struct{} // if set, closed when the first Replace starts
	block    chan struct{} // if set, Replace waits for it to close
	switched []time.Time   // when each successful Replace returned
}

func (d *fakeDNS) Replace(ctx context.Context, s config.DNSServer, zone, name string, ttl uint32, addrs []netip.Addr) error {
	d.mu.Lock()
	started, block := d.started, d.block
	d.started = nil
	d.mu.Unlock()
	if started != nil {
		close(started)
	}
	if block != nil {
		<-block
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.replaces++
	if d.err != nil {
		return d.err
	}
	if d.records == nil {
		d.records = map[string][]netip.Addr{}
	}
	d.records[name] = addrs
	d.switched = append(d.switched, time.Now())
	return nil
}

func (d *fakeDNS) Lookup(ctx context.Context, s config.DNSServer, zone, name string) ([]netip.Addr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.records[name], nil
}

func (d *fakeDNS) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.replaces
}

// fastClock makes backoff and grace periods instant but remembers them.
type fastClock struct {
	mu    sync.Mutex
	slept []time.Duration
}

func (c *fastClock) Now() time.Time { return time.Now() }

func (c *fastClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.slept = append(c.slept, d)
	c.mu.Unlock()
	return ctx.Err()
}

// failingJournal fails every Commit while fail is set. It keeps the bbolt
// journal's history side (retention, pages, size metrics).
type failingJournal struct {
	*journal.Bolt
	fail atomic.Bool
	// tooLarge makes every Commit exceed a limit of the backend, as etcd's
	// --max-txn-ops would.
	tooLarge atomic.Bool
}

func (f *failingJournal) Commit(ctx context.Context, b journal.Batch) error {
	if f.fail.Load() {
		return errors.New("disk full")
	}
	if f.tooLarge.Load() {
		return fmt.Errorf("write journal to etcd: %w: etcd refused a transaction of 300 operations; raise --max-txn-ops", journal.ErrTooLarge)
	}
	return f.Bolt.Commit(ctx, b)
}

type harness struct {
	t        testing.TB
	r        *Receiver
	srv      *httptest.Server
	j        *failingJournal
	path     string
	fencer   *fakeFencer
	strat    *fakeStrategies
	prober   *fakeProber
	dns      *fakeDNS
	clock    *fastClock
	cfg      *config.Config
	registry *prometheus.Registry
}

func newHarness(t testing.TB, cfgText string) *harness {
	t.Helper()
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "journal.db"),
		fencer: &fakeFencer{}, strat: &fakeStrategies{}, prober: &fakeProber{}, dns: &fakeDNS{}, clock: &fastClock{}}
	cfg, err := config.Parse([]byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	h.cfg = cfg
	h.start()
	return h
}

// start opens the journal and starts a receiver on it (again after stop).
func (h *harness) start() {
	h.t.Helper()
	bj, err := journal.OpenBolt(h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	h.j = &failingJournal{Bolt: bj}
	h.registry = prometheus.NewRegistry()
	h.r, err = New(Options{Config: h.cfg, Journal: h.j, Fencer: h.fencer, Strategies: h.strat, Prober: h.prober, DNS: h.dns,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: h.registry, Clock: h.clock})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.r.Start(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.srv = httptest.NewServer(h.r.Handler(h.registry))
	h.t.Cleanup(h.stop)
}

func (h *harness) stop() {
	if h.srv == nil {
		return
	}
	h.srv.Close()
	h.r.Shutdown(context.Background())
	h.j.Close()
	h.srv = nil
}

func (h *harness) post(body string, hdr ...string) (int, string) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/api/v1/alerts", strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitState waits until the service's newest incident reaches state.
func (h *harness) waitState(id string, want api.State) api.Incident {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		inc, err := h.j.Incident(context.Background(), id)
		if err == nil && inc.State == want {
			return inc
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("incident %s: state %q, want %q (err %v, error %q)", id, inc.State, want, err, inc.Error)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) incidents() []api.Incident {
	h.t.Helper()
	incs, err := h.j.Incidents(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return incs
}

// payload builds a version 4 webhook body.
func payload(status string, alerts ...map[string]string) string {
	type alert struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		StartsAt     time.Time         `json:"startsAt"`
		GeneratorURL string            `json:"generatorURL"`
		Fingerprint  string            `json:"fingerprint"`
	}
	var as []alert
	for _, l := range alerts {
		gen := l["_gen"]
		fp := l["_fp"]
		labels := map[string]string{}
		for k, v := range l {
			if !strings.HasPrefix(k, "_") {
				labels[k] = v
			}
		}
		start := time.Now().Add(-time.Second)
		if v, ok := l["_start"]; ok {
			start, _ = time.Parse(time.RFC3339Nano, v)
		}
		as = append(as, alert{Status: status, Labels: labels, StartsAt: start, GeneratorURL: gen, Fingerprint: fp})
	}
	b, _ := json.Marshal(map[string]any{"version": "4", "groupKey": "{}:{alertname=\"x\"}", "status": status, "receiver": "vcr", "alerts": as})
	return string(b)
}

var shutoffWeb = map[string]string{"alertname": "VCRDomainShutoff", "domain": "web01", "uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f", "host": "hv1", "_fp": "aaa", "_gen": "http://prometheus:9090/graph"}
