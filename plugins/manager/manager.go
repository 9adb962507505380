// Package manager runs strategy plugins for vcr-receiver: it discovers
// vcr-strategy-* binaries, starts them through go-plugin (gRPC, AutoMTLS,
// optional SHA-256 pinning), and turns a plugin that crashes or hangs into a
// clear error for that one call, restarting it for the next.
package manager

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// DefaultCallTimeout applies when Config.CallTimeout is zero.
const DefaultCallTimeout = 30 * time.Second

// Errors a caller can test with errors.Is to decide what to record.
var (
	// ErrUnknownStrategy: no vcr-strategy-<name> binary in the plugin dir.
	ErrUnknownStrategy = errors.New("unknown strategy")
	// ErrPluginExited: the plugin process died during the call.
	ErrPluginExited = errors.New("plugin exited")
	// ErrPluginTimeout: the plugin did not answer within the call timeout.
	ErrPluginTimeout = errors.New("plugin timed out")
	// ErrChecksumMismatch: the binary's SHA-256 differs from the configured one.
	ErrChecksumMismatch = errors.New("plugin checksum mismatch")
	// ErrClosed: the manager was closed.
	ErrClosed = errors.New("plugin manager closed")
)

// Config says where the plugins are and how far to trust and wait for them.
type Config struct {
	// Dir holds the vcr-strategy-<name> executables.
	Dir string
	// Checksums maps a strategy name to the hex SHA-256 of its binary. A
	// plugin with a checksum is verified by go-plugin before every start;
	// plugins without one run unverified.
	Checksums map[string]string
	// CallTimeout bounds Info, ValidateConfig, Prepare, Finalize and Abort when the
	// caller's context has no deadline of its own. It also bounds a plugin's
	// start-up. Zero means DefaultCallTimeout.
	CallTimeout time.Duration
	// Logger receives go-plugin's and the plugins' own log lines. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Manager runs strategy plugins on demand, one process per strategy, shared
// by all calls to that strategy. It is safe for concurrent use.
type Manager struct {
	cfg       Config
	log       *slog.Logger
	binaries  map[string]string // name -> path
	checksums map[string][]byte

	mu     sync.Mutex
	slots  map[string]*slot
	closed bool
	killWG sync.WaitGroup
}

// slot serialises starting one strategy's process, so that concurrent first
// calls do not start it twice.
type slot struct {
	startMu sync.Mutex
	inst    *instance // guarded by Manager.mu
}

// New discovers the plugins in cfg.Dir. It starts none of them: a plugin
// starts on its first call, so a broken plugin only affects its services.
func New(cfg Config) (*Manager, error) {
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	m := &Manager{
		cfg:       cfg,
		log:       log,
		binaries:  map[string]string{},
		checksums: map[string][]byte{},
		slots:     map[string]*slot{},
	}
	if cfg.Dir == "" {
		return nil, errors.New("plugin dir is empty: set plugins.dir to the directory holding the vcr-strategy-* binaries")
	}
	entries, err := os.ReadDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("read plugin dir: %w; create it or fix plugins.dir", err)
	}
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), sdk.BinaryPrefix)
		if !ok || name == "" {
			continue
		}
		path := filepath.Join(cfg.Dir, e.Name())
		st, err := os.Stat(path) // follows symlinks, unlike DirEntry.Info
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
			log.Warn("skipping plugin candidate that is not an executable file", "path", path)
			continue
		}
		m.binaries[name] = path
	}
	for name, want := range cfg.Checksums {
		sum, err := hex.DecodeString(want)
		if err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("checksum for strategy %q is not a hex SHA-256 (64 hex digits): %q; compute it with sha256sum", name, want)
		}
		if _, ok := m.binaries[name]; !ok {
			return nil, fmt.Errorf("checksum configured for strategy %q but %s has no %s%s; install the plugin or remove the checksum", name, cfg.Dir, sdk.BinaryPrefix, name)
		}
		m.checksums[name] = sum
	}
	return m, nil
}

// Names lists the discovered strategies, sorted.
func (m *Manager) Names() []string {
	return slices.Sorted(maps.Keys(m.binaries))
}

// Info asks a strategy to describe itself.
func (m *Manager) Info(ctx context.Context, name string) (sdk.Info, error) {
	var info sdk.Info
	err := m.call(ctx, name, "Info", func(ctx context.Context, s sdk.Strategy) error {
		var err error
		info, err = s.Info(ctx)
		return err
	})
	return info, err
}

// ValidateConfig asks a strategy whether a service's settings are valid for
// it, given the receiver-wide shared settings (req.Shared).
func (m *Manager) ValidateConfig(ctx context.Context, name string, req sdk.ValidateRequest) error {
	return m.call(ctx, name, "ValidateConfig", func(ctx context.Context, s sdk.Strategy) error {
		return s.ValidateConfig(ctx, req)
	})
}

// Prepare runs a strategy's Prepare. progress (which may be nil) is called on
// the calling goroutine, in order, before Prepare returns.
func (m *Manager) Prepare(ctx context.Context, name string, req sdk.PrepareRequest, progress sdk.ProgressFunc) (sdk.Endpoint, error) {
	var ep sdk.Endpoint
	err := m.call(ctx, name, "Prepare", func(ctx context.Context, s sdk.Strategy) error {
		var err error
		ep, err = s.Prepare(ctx, req, progress)
		return err
	})
	return ep, err
}

// Finalize runs a strategy's Finalize.
func (m *Manager) Finalize(ctx context.Context, name string, req sdk.FinalizeRequest) error {
	return m.call(ctx, name, "Finalize", func(ctx context.Context, s sdk.Strategy) error {
		return s.Finalize(ctx, req)
	})
}

// Abort asks a strategy to undo what Prepare did for req.IncidentID. A
// plugin built for protocol version 1 has no Abort: the error then wraps
// sdk.ErrUnsupported ("Abort is not supported by this plugin (protocol v1)"),
// which a caller records as the abort's outcome before carrying on.
func (m *Manager) Abort(ctx context.Context, name string, req sdk.AbortRequest) error {
	return m.call(ctx, name, "Abort", func(ctx context.Context, s sdk.Strategy) error {
		return s.Abort(ctx, req)
	})
}

// Close kills every plugin process and waits for them to exit. Calls after
// Close fail with ErrClosed.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	var insts []*instance
	for _, s := range m.slots {
		if s.inst != nil {
			insts = append(insts, s.inst)
			s.inst.retired = true
			s.inst = nil
		}
	}
	m.mu.Unlock()
	for _, inst := range insts {
		m.kill(inst)
	}
	m.killWG.Wait()
}

// call runs fn against the strategy's process and classifies its failure.
func (m *Manager) call(ctx context.Context, name, op string, fn func(context.Context, sdk.Strategy) error) error {
	inst, err := m.acquire(name)
	if err != nil {
		return fmt.Errorf("%s via strategy %q: %w", op, name, err)
	}
	callCtx, cancel, timeout := m.withTimeout(ctx)
	err = fn(callCtx, inst.strategy)
	cancel()
	if err == nil {
		m.release(inst, false)
		return nil
	}
	err, broken := m.classify(ctx, callCtx, inst, op, timeout, err)
	m.release(inst, broken)
	return err
}

// withTimeout applies CallTimeout unless the caller already set a deadline,
// and reports the budget the call actually has (for the error message).
func (m *Manager) withTimeout(ctx context.Context) (context.Context, context.CancelFunc, time.Duration) {
	if dl, ok := ctx.Deadline(); ok {
		c, cancel := context.WithCancel(ctx)
		return c, cancel, time.Until(dl).Round(time.Millisecond)
	}
	c, cancel := context.WithTimeout(ctx, m.cfg.CallTimeout)
	return c, cancel, m.cfg.CallTimeout
}

// classify turns a failed call into an error for people and says whether the
// process must be replaced.
func (m *Manager) classify(parent, callCtx context.Context, inst *instance, op string, timeout time.Duration, err error) (error, bool) {
	bin := sdk.BinaryPrefix + inst.name
	switch {
	case timedOut(callCtx, err):
		// The process may be wedged (it ignored its context), so replace it;
		// a healthy one costs a few milliseconds to restart.
		return fmt.Errorf("%w: plugin %s did not answer within %s during %s; raise plugins.timeout or fix the plugin: %w",
			ErrPluginTimeout, bin, timeout, op, context.DeadlineExceeded), true
	case parent.Err() != nil:
		return fmt.Errorf("%s via plugin %s: %w", op, bin, parent.Err()), false
	}
	if cause, exited := inst.waitExit(isTransport(err)); exited {
		return fmt.Errorf("%w: plugin %s exited during %s: %s; it will be restarted for the next call, check its log above",
			ErrPluginExited, bin, op, cause), true
	}
	if isTransport(err) {
		return fmt.Errorf("%s via plugin %s: lost the connection to the plugin: %w; it will be restarted for the next call", op, bin, err), true
	}
	return fmt.Errorf("strategy %s: %s: %w", inst.name, op, err), false
}

// deadlineSlack is how close to its deadline a call may end with gRPC's
// DeadlineExceeded and still count as timed out: gRPC runs its own timer
// for the same deadline, which can end the call a moment before the
// context reports it expired.
const deadlineSlack = 100 * time.Millisecond

// timedOut says whether a failed call ran out of its time budget.
func timedOut(callCtx context.Context, err error) bool {
	if errors.Is(callCtx.Err(), context.DeadlineExceeded) {
		return true
	}
	dl, ok := callCtx.Deadline()
	return ok && errors.Is(err, context.DeadlineExceeded) && time.Until(dl) < deadlineSlack
}

func isTransport(err error) bool {
	var te *sdk.TransportError
	return errors.As(err, &te)
}

// acquire returns a running process for name, starting one if needed, and
// counts the caller as in flight on it.
func (m *Manager) acquire(name string) (*instance, error) {
	path, ok := m.binaries[name]
	if !ok {
		return nil, fmt.Errorf("%w: no %s%s in %s (found: %s); install the plugin or fix the service's strategy name",
			ErrUnknownStrategy, sdk.BinaryPrefix, name, m.cfg.Dir, strings.Join(m.Names(), ", "))
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	s := m.slots[name]
	if s == nil {
		s = &slot{}
		m.slots[name] = s
	}
	if inst := m.usable(s); inst != nil {
		m.mu.Unlock()
		return inst, nil
	}
	m.mu.Unlock()

	s.startMu.Lock()
	defer s.startMu.Unlock()
	m.mu.Lock()
	if inst := m.usable(s); inst != nil { // someone else started it meanwhile
		m.mu.Unlock()
		return inst, nil
	}
	m.mu.Unlock()

	inst, err := m.start(name, path)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		go inst.client.Kill()
		return nil, ErrClosed
	}
	s.inst = inst
	inst.inflight++
	return inst, nil
}

// usable returns the slot's process with the caller counted in, or nil when
// there is none or it has died. Caller holds m.mu.
func (m *Manager) usable(s *slot) *instance {
	inst := s.inst
	if inst == nil {
		return nil
	}
	if inst.client.Exited() {
		m.log.Warn("strategy plugin had exited; starting it again", "plugin", inst.name, "cause", inst.exitCause())
		s.inst = nil
		inst.retired = true
		if inst.inflight == 0 {
			m.killLocked(inst)
		}
		return nil
	}
	inst.inflight++
	return inst
}

// release ends a call; a broken process is retired so the next call starts a
// fresh one, and is killed once no call uses it.
func (m *Manager) release(inst *instance, broken bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	inst.inflight--
	if broken && !inst.retired {
		inst.retired = true
		if s := m.slots[inst.name]; s != nil && s.inst == inst {
			s.inst = nil
		}
	}
	if inst.retired && inst.inflight == 0 {
		m.killLocked(inst)
	}
}

func (m *Manager) killLocked(inst *instance) {
	if inst.killing {
		return
	}
	inst.killing = true
	m.killWG.Add(1)
	go func() {
		defer m.killWG.Done()
		inst.client.Kill()
	}()
}

func (m *Manager) kill(inst *instance) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.killLocked(inst)
}

// start launches one plugin process and dispenses its Strategy.
func (m *Manager) start(name, path string) (*instance, error) {
	bin := sdk.BinaryPrefix + name
	inst := &instance{name: name, exited: make(chan struct{}), stderr: &tailBuffer{max: 4096}}
	log := m.log.With("strategy", name)
	cfg := sdk.ClientConfig(exec.Command(path))
	cfg.Managed = true
	cfg.StartTimeout = m.cfg.CallTimeout
	cfg.Logger = newHCLogAdapter(log, inst.setExit)
	cfg.Stderr = inst.stderr
	// After Serve, a plugin's os.Stdout and os.Stderr travel over
	// go-plugin's stdio stream rather than the process's pipes.
	cfg.SyncStdout = &lineLogger{log: log, level: slog.LevelInfo, stream: "stdout"}
	cfg.SyncStderr = io.MultiWriter(inst.stderr, &lineLogger{log: log, level: slog.LevelWarn, stream: "stderr"})
	if sum, ok := m.checksums[name]; ok {
		cfg.SecureConfig = &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	client := plugin.NewClient(cfg)
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return nil, fmt.Errorf("%w: refusing to start %s: its SHA-256 is %s but the configured checksum is %s; rebuild the plugin or update the checksum",
				ErrChecksumMismatch, path, fileSHA256(path), hex.EncodeToString(m.checksums[name]))
		}
		err = sdk.ExplainStartError(bin, err)
		if errors.Is(err, sdk.ErrIncompatibleVersion) {
			return nil, err
		}
		if tail := inst.stderr.lastLines(3); tail != "" {
			return nil, fmt.Errorf("start plugin %s: %w (stderr: %s); run it with %s=%s set to see why", path, err, tail, sdk.MagicCookieKey, sdk.MagicCookieValue)
		}
		return nil, fmt.Errorf("start plugin %s: %w; check the plugin log above", path, err)
	}
	s, err := sdk.Dispense(rpc)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("start plugin %s: %w", path, err)
	}
	inst.client = client
	inst.strategy = s
	log.Debug("strategy plugin started", "version", client.NegotiatedVersion())
	if v := client.NegotiatedVersion(); v < sdk.ProtocolVersion {
		log.Warn("strategy plugin speaks an older protocol: it runs recoveries but cannot undo them (no Abort); rebuild it against the current plugins/sdk",
			"plugin", bin, "protocol", v, "current", sdk.ProtocolVersion)
	}
	return inst, nil
}

func fileSHA256(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return hex.EncodeToString(h.Sum(nil))
}
