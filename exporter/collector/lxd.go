package collector

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vcrcovery/vcrcovery/lxd"
)

// DefaultLXDRole is the role label of the LXD collector's series: the rules
// select the standby VM by role="standby".
const DefaultLXDRole = "standby"

// lxdResourcesTTL is how long the capacity read from GET /1.0/resources is
// reused. That call walks the host's CPUs, disks, PCI and USB devices (80-200 ms
// on the test machine, against 6-10 ms for all instances' state), while the
// capacity only changes when the VM is resized.
const lxdResourcesTTL = time.Minute

// LXDOptions configures the LXD collector: the view of the standby VM's LXD
// daemon, one container per service, and the VM's capacity.
type LXDOptions struct {
	// Config says how to reach the daemon (Socket, or URL with ClientCert,
	// ClientKey and ServerCert). Its Timeout defaults to the scrape timeout.
	Config lxd.Config
	// Role is the value of the role label; empty means DefaultLXDRole.
	Role string
	// CPUs, if above 0, is exported as vcr_lxd_cpus instead of what
	// /1.0/resources reports. /1.0/resources counts the CPUs the kernel shows,
	// which overstates a standby whose containers may use only part of them
	// (an LXD host under a CPU quota, or shared with other work).
	CPUs float64
}

// The lxd collector is on when the exporter has LXD options (--lxd.socket or
// --lxd.url). newLXDCollector checks the configuration's files at start-up,
// so a wrong path fails there, but connects lazily: the daemon may start
// after the exporter, and while it is unreachable vcr_lxd_up is 0 and the
// other collectors are unaffected.
func init() {
	registerCollector("lxd", func(cfg Config) (Collector, error) {
		if cfg.LXD == nil {
			return nil, nil
		}
		return newLXDCollector(*cfg.LXD, cfg.Host, cfg.Cloud, cfg.ScrapeTimeout, cfg.Logger.With("component", "lxd"))
	})
}

// lxdCollector exports the instances of one LXD daemon from one
// GET /1.0/instances?recursion=2 per scrape (instances with their state), and
// the daemon's capacity from GET /1.0/resources, cached for lxdResourcesTTL.
type lxdCollector struct {
	cfg    lxd.Config
	logger *slog.Logger
	now    func() time.Time
	// numCPU is the capacity fallback for daemons without the resources API.
	numCPU func() int

	cpusOverride float64 // LXDOptions.CPUs

	mu       sync.Mutex
	client   *lxd.Client
	full     bool // the daemon has container_full: recursion=2 carries state
	cpus     float64
	memory   float64 // 0: unknown
	resAt    time.Time
	resKnown bool
	noResAPI bool // the daemon lacks the resources API: cpus is numCPU for good

	up, cpusDesc, memDesc, running, cpu, mem *prometheus.Desc
	// sorted constant label pairs, shared by every series: cloud, host, role.
	cloudPair, hostPair, rolePair *dto.LabelPair
}

func newLXDCollector(opts LXDOptions, host, cloud string, timeout time.Duration, logger *slog.Logger) (*lxdCollector, error) {
	cfg := opts.Config
	if (cfg.Socket == "") == (cfg.URL == "") {
		return nil, errors.New("lxd collector: set exactly one of --lxd.socket and --lxd.url")
	}
	if cfg.URL != "" {
		if cfg.ClientCert == "" || cfg.ClientKey == "" || cfg.ServerCert == "" {
			return nil, errors.New("lxd collector: --lxd.url needs --lxd.client-cert, --lxd.client-key and --lxd.server-cert (the daemon's server.crt)")
		}
		if _, err := tls.LoadX509KeyPair(cfg.ClientCert, cfg.ClientKey); err != nil {
			return nil, fmt.Errorf("lxd collector: load --lxd.client-cert/--lxd.client-key: %w", err)
		}
		if _, err := os.Stat(cfg.ServerCert); err != nil {
			return nil, fmt.Errorf("lxd collector: --lxd.server-cert: %w; copy the daemon's server.crt here", err)
		}
	}
	if opts.CPUs < 0 {
		return nil, fmt.Errorf("lxd collector: --lxd.cpus %g: want 0 (from /1.0/resources) or a positive count", opts.CPUs)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = timeout
	}
	role := opts.Role
	if role == "" {
		role = DefaultLXDRole
	}
	constLabels := prometheus.Labels{"host": host, "cloud": cloud, "role": role}
	name := []string{"name"}
	d := func(n, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "lxd", n), help, labels, constLabels)
	}
	return &lxdCollector{
		cfg: cfg, logger: logger, now: time.Now, numCPU: runtime.NumCPU, cpusOverride: opts.CPUs,
		cloudPair: labelPair("cloud", cloud), hostPair: labelPair("host", host), rolePair: labelPair("role", role),

		up:       d("up", "1 if this scrape's LXD calls succeeded, else 0.", nil),
		cpusDesc: d("cpus", "CPUs of the standby: --lxd.cpus if set, else the LXD host's threads (GET /1.0/resources cpu.total; the exporter's runtime.NumCPU() if the daemon lacks the resources API).", nil),
		memDesc:  d("memory_bytes", "Memory of the LXD host (GET /1.0/resources memory.total).", nil),
		running:  d("instance_running", "1 if the LXD instance is running, else 0.", name),
		cpu:      d("instance_cpu_seconds_total", "CPU time used by a running LXD instance (state cpu.usage).", name),
		mem:      d("instance_memory_bytes", "Memory used by a running LXD instance (state memory.usage, its cgroup's usage, page cache included).", name),
	}, nil
}

// lxdInstanceFull is the part of GET /1.0/instances?recursion=2 the
// collector reads: each instance with its state.
type lxdInstanceFull struct {
	Name       string             `json:"name"`
	StatusCode int                `json:"status_code"`
	State      *lxd.InstanceState `json:"state"`
}

// lxdResources is the part of GET /1.0/resources the collector reads.
type lxdResources struct {
	CPU struct {
		Total float64 `json:"total"`
	} `json:"cpu"`
	Memory struct {
		Total float64 `json:"total"`
	} `json:"memory"`
}

func (c *lxdCollector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	insts, err := c.collect(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return err
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	c.mu.Lock()
	cpus, mem, known := c.cpus, c.memory, c.resKnown
	c.mu.Unlock()
	if c.cpusOverride > 0 {
		cpus, known = c.cpusOverride, true
	}
	if known {
		ch <- prometheus.MustNewConstMetric(c.cpusDesc, prometheus.GaugeValue, cpus)
		if mem > 0 {
			ch <- prometheus.MustNewConstMetric(c.memDesc, prometheus.GaugeValue, mem)
		}
	}
	for _, in := range insts {
		// Label pairs sorted by name: cloud, host, name, role.
		labels := []*dto.LabelPair{c.cloudPair, c.hostPair, labelPair("name", in.Name), c.rolePair}
		run := 0.0
		if in.StatusCode == lxd.StatusRunning {
			run = 1
		}
		ch <- &series{desc: c.running, labels: labels, value: run}
		// A stopped instance reports zero usage; exporting it would look like a
		// counter reset, so its CPU and memory series disappear instead.
		if run == 0 || in.State == nil {
			continue
		}
		ch <- &series{desc: c.cpu, labels: labels, value: float64(in.State.CPU.Usage) / 1e9, counter: true}
		ch <- &series{desc: c.mem, labels: labels, value: float64(in.State.Memory.Usage)}
	}
	return nil
}

// collect connects if needed, refreshes the capacity when stale and returns
// every instance with its state.
func (c *lxdCollector) collect(ctx context.Context) ([]lxdInstanceFull, error) {
	client, full, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.refreshResources(ctx, client); err != nil {
		// Stale capacity beats none; a daemon that never answered is an error.
		c.mu.Lock()
		known := c.resKnown
		c.mu.Unlock()
		if !known {
			return nil, err
		}
		c.logger.Warn("LXD resources refresh failed; exporting the last known capacity", "err", err)
	}
	if full {
		return c.instancesFull(ctx, client)
	}
	return c.instancesOneByOne(ctx, client)
}

func (c *lxdCollector) connect(ctx context.Context) (*lxd.Client, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		return c.client, c.full, nil
	}
	client, err := lxd.Connect(ctx, c.cfg)
	if err != nil {
		return nil, false, fmt.Errorf("lxd collector: %w; vcr_lxd_up stays 0 until the daemon answers", err)
	}
	srv := client.Server()
	c.client, c.full = client, srv.HasExtension("container_full")
	if !srv.HasExtension("resources") {
		// Without the resources API the exporter's own CPU count is the best
		// guess: it runs inside (or beside) the standby VM.
		c.cpus, c.memory, c.resKnown, c.noResAPI = float64(c.numCPU()), 0, true, true
	}
	c.logger.Info("connected to LXD", "target", client.Target(), "server_version", srv.Environment.ServerVersion,
		"recursion2", c.full)
	return client, c.full, nil
}

func (c *lxdCollector) refreshResources(ctx context.Context, client *lxd.Client) error {
	c.mu.Lock()
	fresh := c.noResAPI || c.resKnown && c.now().Sub(c.resAt) < lxdResourcesTTL
	c.mu.Unlock()
	if fresh {
		return nil
	}
	resp, _, err := client.Raw(ctx, http.MethodGet, "/1.0/resources", nil)
	if err != nil {
		return fmt.Errorf("lxd collector: GET /1.0/resources: %w", err)
	}
	var res lxdResources
	if err := json.Unmarshal(resp.Metadata, &res); err != nil {
		return fmt.Errorf("lxd collector: decode /1.0/resources: %w; is this an LXD daemon?", err)
	}
	if res.CPU.Total <= 0 {
		return errors.New("lxd collector: /1.0/resources reports no CPUs; check the daemon's host")
	}
	c.mu.Lock()
	c.cpus, c.memory, c.resAt, c.resKnown = res.CPU.Total, res.Memory.Total, c.now(), true
	c.mu.Unlock()
	return nil
}

// instancesFull is one round trip: LXD 5.0 returns every instance with its
// state for recursion=2.
func (c *lxdCollector) instancesFull(ctx context.Context, client *lxd.Client) ([]lxdInstanceFull, error) {
	resp, _, err := client.Raw(ctx, http.MethodGet, "/1.0/instances?recursion=2", nil)
	if err != nil {
		return nil, fmt.Errorf("lxd collector: list instances with state: %w", err)
	}
	var out []lxdInstanceFull
	if err := json.Unmarshal(resp.Metadata, &out); err != nil {
		return nil, fmt.Errorf("lxd collector: decode /1.0/instances?recursion=2: %w", err)
	}
	return out, nil
}

// instancesOneByOne is the fallback for daemons without container_full: one
// list, then one state call per running instance. An instance deleted between
// the two calls is skipped.
func (c *lxdCollector) instancesOneByOne(ctx context.Context, client *lxd.Client) ([]lxdInstanceFull, error) {
	list, err := client.ListInstances(ctx)
	if err != nil {
		return nil, fmt.Errorf("lxd collector: %w", err)
	}
	out := make([]lxdInstanceFull, 0, len(list))
	for _, in := range list {
		f := lxdInstanceFull{Name: in.Name, StatusCode: in.StatusCode}
		if in.StatusCode == lxd.StatusRunning {
			st, err := client.GetInstanceState(ctx, in.Name)
			if errors.Is(err, lxd.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("lxd collector: %w", err)
			}
			f.StatusCode, f.State = st.StatusCode, st
		}
		out = append(out, f)
	}
	return out, nil
}
