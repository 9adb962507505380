package system

// A fleet: many services on a few hosts, recovered by the example strategy
// (a command that answers at once), for mass failover tests and the fleet
// benchmark. Unlike Start, nothing here runs a primary or a container: the
// services' primaries are unreachable hosts (fencing waits a 0 s grace
// period and the split-brain guard finds nothing answering), and every
// recovered service is one HTTP endpoint. What is real is the receiver
// (one on bbolt, or replicas on etcd), its plugin process, named, and the
// counts of prepares and DNS UPDATEs that prove each service was recovered
// exactly once.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// FleetOptions shape a fleet.
type FleetOptions struct {
	Services int // s000, s001, ...
	// Hosts spreads the services round robin over hosts hv0, hv1, ... of
	// cloud c1 (default 1).
	Hosts int
	// Replicas runs that many receivers: 1 (default) on a bbolt journal,
	// more on one etcd prefix of Etcd.
	Replicas int
	Etcd     *testenv.EtcdCluster
	// PrepareSleep is how long each prepare's command takes (0: it
	// answers at once).
	PrepareSleep time.Duration
	// MaxConcurrentPrepares is pipeline.max_concurrent_prepares (0: the
	// receiver's default).
	MaxConcurrentPrepares int
	// Priority gives service i its priority (nil: all 0).
	Priority func(i int) int
	// FailPrepare lists services whose prepare fails (the incident ends
	// failed and holds the service until acknowledged).
	FailPrepare []string
	// Journal adds keys to the receivers' journal section.
	Journal map[string]any
	Logf    func(format string, args ...any)
}

// Fleet is a running fleet.
type Fleet struct {
	Opts      FleetOptions
	Dir       string
	Named     *testenv.Named
	DNS       *DNSCounter
	Receivers []*FleetReceiver
	Services  []string
	// EndpointPort is where every recovered service answers, on 127.0.0.1.
	EndpointPort int
	prefix       string
	t            testenv.TB
}

// FleetReceiver is one vcr-receiver of a fleet.
type FleetReceiver struct {
	Name       string
	URL        string
	ConfigFile string
	Proc       *testenv.Proc
	Client     *api.Client
	args       []string
}

// fleetToken is the receivers' bearer token.
const fleetToken = "fleet-token"

// StartFleet starts named, the endpoint, and the receivers.
func StartFleet(t testenv.TB, o FleetOptions) *Fleet {
	t.Helper()
	if o.Hosts == 0 {
		o.Hosts = 1
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Replicas > 1 && o.Etcd == nil {
		t.Fatalf("system: a fleet of %d replicas needs an etcd cluster", o.Replicas)
	}
	f := &Fleet{Opts: o, Dir: t.TempDir(), prefix: fmt.Sprintf("/fleet-%d/", time.Now().UnixNano()), t: t}
	records := map[string]string{}
	for i := range o.Services {
		name := fmt.Sprintf("s%03d", i)
		f.Services = append(f.Services, name)
		records[name] = "127.0.0.9"
	}
	f.Named = testenv.StartNamed(t, testenv.NamedOptions{Zone: Zone, Records: records, TTL: 1})
	f.DNS = StartDNSCounter(t, f.Named.Addr)
	f.startEndpoint(t)
	plugins := filepath.Join(f.Dir, "plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		t.Fatalf("system: %v", err)
	}
	if err := os.Symlink(testenv.Binary(t, "vcr-strategy-example"), filepath.Join(plugins, "vcr-strategy-example")); err != nil {
		t.Fatalf("system: %v", err)
	}
	if err := os.WriteFile(f.tokenFile(), []byte(fleetToken+"\n"), 0o600); err != nil {
		t.Fatalf("system: %v", err)
	}
	for i := range o.Replicas {
		f.Receivers = append(f.Receivers, f.newReceiver(t, i, plugins))
	}
	for i := range f.Receivers {
		f.StartReceiver(t, i)
	}
	return f
}

func (f *Fleet) tokenFile() string { return filepath.Join(f.Dir, "token") }

// startEndpoint serves every recovered service: one HTTP listener.
func (f *Fleet) startEndpoint(t testenv.TB) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("system: endpoint: %v", err)
	}
	f.EndpointPort = ln.Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "standby\n")
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// newReceiver writes replica i's config.
func (f *Fleet) newReceiver(t testenv.TB, i int, plugins string) *FleetReceiver {
	o := f.Opts
	r := &FleetReceiver{Name: fmt.Sprintf("r%d", i)}
	prepare := fmt.Sprintf("echo $VCR_SERVICE >> %s; ", filepath.Join(f.Dir, "prepares"))
	if len(o.FailPrepare) > 0 {
		prepare += fmt.Sprintf("case \" %s \" in *\" $VCR_SERVICE \"*) echo failing on purpose; exit 1;; esac; ", strings.Join(o.FailPrepare, " "))
	}
	if o.PrepareSleep > 0 {
		prepare += fmt.Sprintf("sleep %.3f; ", o.PrepareSleep.Seconds())
	}
	prepare += fmt.Sprintf("echo 127.0.0.1 %d", f.EndpointPort)
	settings := map[string]any{"command": []string{"sh", "-c", prepare}, "timeout": "5m"}
	closedPort := testenv.FreePort(t) // nothing listens: the primaries are down
	var services []any
	for k, name := range f.Services {
		prio := 0
		if o.Priority != nil {
			prio = o.Priority(k)
		}
		services = append(services, map[string]any{
			"name": name,
			"primary": map[string]any{"domain": "dom-" + name, "address": "127.0.0.1", "port": closedPort,
				"host": map[string]any{"name": fmt.Sprintf("hv%d", k%o.Hosts), "cloud": "c1",
					"socket": filepath.Join(f.Dir, "no-libvirt-here.sock"), "timeout": "1s"}},
			"strategy": map[string]any{"name": "example", "settings": settings},
			"dns":      map[string]any{"name": name + "." + Zone, "zone": Zone, "ttl": 1},
			"check":    map[string]any{"http_path": "/", "timeout": "60s"},
			"fencing":  map[string]any{"grace_period": "0s"},
			"priority": prio,
		})
	}
	journal := map[string]any{"path": filepath.Join(f.Dir, r.Name+".db")}
	if o.Replicas > 1 {
		journal = map[string]any{"backend": "etcd", "endpoints": o.Etcd.Endpoints, "prefix": f.prefix, "replica": r.Name,
			"lease_ttl": "2s", "request_timeout": "5s", "dial_timeout": "3s"}
	}
	for k, v := range o.Journal {
		journal[k] = v
	}
	pipeline := map[string]any{"max_attempts": 3, "backoff": "100ms", "max_backoff": "500ms", "switch_timeout": "20s"}
	if o.MaxConcurrentPrepares > 0 {
		pipeline["max_concurrent_prepares"] = o.MaxConcurrentPrepares
	}
	cfg := map[string]any{
		"web":      map[string]any{"auth": map[string]any{"bearer_token_file": f.tokenFile()}},
		"journal":  journal,
		"plugins":  map[string]any{"dir": plugins, "timeout": "5m"},
		"pipeline": pipeline,
		"dns_servers": []any{map[string]any{"name": "main", "address": f.DNS.Addr, "key_name": f.Named.KeyName,
			"algorithm": f.Named.Algorithm, "secret_file": f.Named.KeyFile, "timeout": "5s"}},
		"services": services,
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatalf("system: %v", err)
	}
	r.ConfigFile = filepath.Join(f.Dir, r.Name+".yml")
	if err := os.WriteFile(r.ConfigFile, b, 0o600); err != nil {
		t.Fatalf("system: %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	r.URL = "http://" + addr
	r.args = []string{"--config.file", r.ConfigFile, "--web.listen-address", addr, "--log.level", "info"}
	r.Client = api.New(r.URL, fleetToken)
	return r
}

// StartReceiver (re)starts receiver i.
func (f *Fleet) StartReceiver(t testenv.TB, i int) {
	t.Helper()
	r := f.Receivers[i]
	r.Proc = testenv.StartDaemon(t, testenv.DaemonSpec{
		Name: "vcr-receiver-" + r.Name, Path: testenv.Binary(t, "vcr-receiver"), Args: r.args, Dir: f.Dir,
		Log:   filepath.Join(f.Dir, r.Name+".log"),
		Ready: func() error { return testenv.HTTPOK(r.URL + "/-/ready") },
	})
}

// Down is the body of one webhook delivery: alertname firing with the
// given labels, one alert per label set, starting at startsAt.
func Down(startsAt time.Time, alertname string, labelSets ...map[string]string) string {
	var alerts []string
	for i, l := range labelSets {
		var kv []string
		kv = append(kv, fmt.Sprintf("%q:%q", "alertname", alertname))
		for k, v := range l {
			kv = append(kv, fmt.Sprintf("%q:%q", k, v))
		}
		alerts = append(alerts, fmt.Sprintf(`{"status":"firing","labels":{%s},"startsAt":%q,"fingerprint":"f%d"}`,
			strings.Join(kv, ","), startsAt.UTC().Format(time.RFC3339Nano), i))
	}
	return fmt.Sprintf(`{"version":"4","status":"firing","receiver":"vcr","groupKey":"fleet","alerts":[%s]}`, strings.Join(alerts, ","))
}

// Post sends a webhook body to receiver i and returns the status code and
// the answer (code 0: the request failed).
func (f *Fleet) Post(i int, body string) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, f.Receivers[i].URL+"/api/v1/alerts", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+fleetToken)
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Prepares counts the prepares each service's strategy ran.
func (f *Fleet) Prepares() map[string]int {
	b, _ := os.ReadFile(filepath.Join(f.Dir, "prepares"))
	out := map[string]int{}
	for _, l := range strings.Fields(string(b)) {
		out[l]++
	}
	return out
}

// WaitEnded polls receiver i until n incidents opened at or after since
// have ended (resolved or not), and returns them.
func (f *Fleet) WaitEnded(t testenv.TB, i, n int, since time.Time, timeout time.Duration) []api.Incident {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		incs, err := f.Receivers[i].Client.Incidents(ctx)
		cancel()
		var ended []api.Incident
		running := 0
		for _, inc := range incs {
			if inc.OpenedAt.Before(since) {
				continue
			}
			if inc.State.Running() {
				running++
			} else {
				ended = append(ended, inc)
			}
		}
		if err == nil && len(ended) >= n {
			return ended
		}
		if time.Now().After(deadline) {
			t.Fatalf("system: %d of %d incidents ended after %s (%d running, last error %v)\nreceiver log:\n%s",
				len(ended), n, timeout, running, err, f.Receivers[i].Proc.Tail(30))
		}
		time.Sleep(PollInterval(n))
	}
}

// PollInterval is how long to wait between two reads of the incident list
// while n incidents run. Each read takes every incident from the journal:
// with hundreds of them, polling fast would cost the receiver more CPU than
// the recoveries being measured. The times measured come from the
// incidents, not from when a poll saw them.
func PollInterval(n int) time.Duration {
	return min(time.Second, max(50*time.Millisecond, time.Duration(n)*time.Millisecond))
}

// CPUProfile records receiver i's CPU profile for the given time, from its
// /debug/pprof/profile, and returns it in pprof's format.
func (f *Fleet) CPUProfile(i int, d time.Duration) ([]byte, error) {
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", f.Receivers[i].URL, int(d.Seconds()))
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+fleetToken)
	resp, err := (&http.Client{Timeout: d + 30*time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s: %s", url, resp.Status, b)
	}
	return b, err
}
