package receiver_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// stack is one real vcr-receiver process with the example strategy plugin,
// a counting DNS server and a test endpoint.
type stack struct {
	t        *testing.T
	dir      string
	args     []string
	cfgPath  string
	url      string
	client   *api.Client
	proc     *testenv.Proc
	dns      *updateCounter
	endpoint *testEndpoint
}

// testEndpoint is the "recovered service": it answers 503 until ready.
type testEndpoint struct {
	port  int
	ready atomic.Bool
}

func startEndpoint(t *testing.T) *testEndpoint {
	e := &testEndpoint{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.port = l.Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !e.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return e
}

type stackOpts struct {
	named         *testenv.Named // real named instead of the counting server
	prepareSleep  string         // seconds the plugin command sleeps
	finalizeSleep string
	gracePeriod   string
	pluginTimeout string // default 40s
	dnsTimeout    string // default 5s
	plugin        string // the vcr-strategy-example binary to run; default: this tree's
}

func newStack(t *testing.T, o stackOpts) *stack {
	t.Helper()
	s := &stack{t: t, dir: t.TempDir()}
	secret := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	dnsAddr, keyName, zone := "", "vcr-key.", "vcr.test."
	if o.named != nil {
		secret, dnsAddr, keyName, zone = o.named.KeySecret, o.named.Addr, o.named.KeyName, o.named.Zone
	} else {
		s.dns = startUpdateCounter(t, zone, keyName, secret)
		dnsAddr = s.dns.Addr
	}
	s.endpoint = startEndpoint(t)
	pluginDir := filepath.Join(s.dir, "plugins")
	os.MkdirAll(pluginDir, 0o755)
	plugin := o.plugin
	if plugin == "" {
		plugin = testenv.Binary(t, "vcr-strategy-example")
	}
	if err := os.Symlink(plugin, filepath.Join(pluginDir, "vcr-strategy-example")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(s.dir, "tsig.secret"), []byte(secret+"\n"), 0o600)
	os.WriteFile(filepath.Join(s.dir, "token"), []byte("tok\n"), 0o600)
	settings := map[string]any{
		"command": []string{"sh", "-c", fmt.Sprintf("echo x >> %s; echo starting; sleep %s; echo 127.0.0.1 %d", filepath.Join(s.dir, "prepares"), o.prepareSleep, s.endpoint.port)},
		"timeout": "30s",
	}
	if o.finalizeSleep != "" {
		settings["finalize_command"] = []string{"sleep", o.finalizeSleep}
	}
	cfg := map[string]any{
		"web":         map[string]any{"auth": map[string]any{"bearer_token_file": filepath.Join(s.dir, "token")}},
		"journal":     map[string]any{"path": filepath.Join(s.dir, "journal.db")},
		"plugins":     map[string]any{"dir": pluginDir, "timeout": orDefault(o.pluginTimeout, "40s")},
		"pipeline":    map[string]any{"max_attempts": 3, "backoff": "100ms", "max_backoff": "500ms", "switch_timeout": "10s"},
		"dns_servers": []any{map[string]any{"name": "main", "address": dnsAddr, "key_name": keyName, "secret_file": filepath.Join(s.dir, "tsig.secret"), "timeout": orDefault(o.dnsTimeout, "5s")}},
		"services": []any{map[string]any{
			"name": "web",
			"primary": map[string]any{"domain": "web01", "address": "127.0.0.1", "port": testenv.FreePort(t),
				"host": map[string]any{"socket": filepath.Join(s.dir, "no-libvirt-here.sock"), "timeout": "1s"}},
			"strategy": map[string]any{"name": "example", "settings": settings},
			"dns":      map[string]any{"name": "web." + zone, "zone": zone, "ttl": 1},
			"check":    map[string]any{"http_path": "/", "timeout": "30s"},
			"fencing":  map[string]any{"grace_period": o.gracePeriod},
		}},
	}
	b, _ := yaml.Marshal(cfg)
	cfgPath := filepath.Join(s.dir, "receiver.yml")
	s.cfgPath = cfgPath
	os.WriteFile(cfgPath, b, 0o600)
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	s.url = "http://" + addr
	s.args = []string{"--config.file", cfgPath, "--web.listen-address", addr, "--log.level", "debug"}
	s.client = api.New(s.url, "tok")
	s.start()
	return s
}

func (s *stack) start() {
	s.t.Helper()
	s.proc = testenv.StartDaemon(s.t, testenv.DaemonSpec{
		Name: "vcr-receiver", Path: testenv.Binary(s.t, "vcr-receiver"), Args: s.args, Dir: s.dir,
		Log:   filepath.Join(s.dir, "vcr-receiver.log"),
		Ready: func() error { return testenv.HTTPOK(s.url + "/-/ready") },
	})
}

func (s *stack) postShutoff() string {
	s.t.Helper()
	body := `{"version":"4","status":"firing","receiver":"vcr","groupKey":"g","alerts":[{"status":"firing",` +
		`"labels":{"alertname":"VCRDomainShutoff","domain":"web01"},"startsAt":"` + time.Now().UTC().Format(time.RFC3339Nano) + `","fingerprint":"f1"}]}`
	if code, answer := s.post(body); code != 200 {
		s.t.Fatalf("webhook answered %d: %s", code, answer)
	}
	incs, err := s.client.Incidents(context.Background())
	if err != nil || len(incs) != 1 {
		s.t.Fatalf("incidents after the alert: %v %v", incs, err)
	}
	return incs[0].ID
}

// waitFor polls the incident until cond holds.
func (s *stack) waitFor(id, what string, cond func(api.Incident) bool) api.Incident {
	s.t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		inc, err := s.client.Incident(context.Background(), id)
		if err == nil && cond(inc) {
			return inc
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("incident %s never reached %s (state %q, error %q, err %v)\nreceiver log:\n%s", id, what, inc.State, inc.Error, err, s.proc.Tail(40))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCrashSafetyRealBinary SIGKILLs the real receiver during each phase in
// turn, restarts it on the same journal, and checks that the incident
// completes with exactly one DNS UPDATE.
func TestCrashSafetyRealBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	phases := []struct {
		phase string
		state api.State
	}{
		{api.PhaseFence, api.StateFencing},
		{api.PhasePrepare, api.StatePreparing},
		{api.PhaseVerify, api.StateVerifying},
		{api.PhaseSwitch, api.StateSwitching},
		{api.PhaseFinalize, api.StateFinalizing},
	}
	for _, p := range phases {
		t.Run(p.phase, func(t *testing.T) {
			t.Parallel()
			o := stackOpts{prepareSleep: "0", gracePeriod: "0s"}
			switch p.phase {
			case api.PhaseFence:
				o.gracePeriod = "3s"
			case api.PhasePrepare:
				o.prepareSleep = "3"
			case api.PhaseFinalize:
				o.finalizeSleep = "3"
			}
			s := newStack(t, o)
			if p.phase != api.PhaseVerify {
				s.endpoint.ready.Store(true)
			}
			updateArrived := make(chan struct{})
			if p.phase == api.PhaseSwitch {
				// The UPDATE is applied, but the answer never leaves before the kill.
				var once atomic.Bool
				s.dns.OnUpdate = func(n int) {
					if once.CompareAndSwap(false, true) {
						close(updateArrived)
						time.Sleep(3 * time.Second)
					}
				}
			}
			id := s.postShutoff()
			s.waitFor(id, string(p.state), func(inc api.Incident) bool { return inc.State == p.state })
			if p.phase == api.PhaseSwitch {
				select {
				case <-updateArrived:
				case <-time.After(20 * time.Second):
					t.Fatal("the UPDATE never arrived")
				}
			}
			if p.phase == api.PhasePrepare || p.phase == api.PhaseFinalize || p.phase == api.PhaseFence {
				time.Sleep(500 * time.Millisecond) // well inside the 3 s the phase takes
			}
			s.proc.Kill()
			if p.phase == api.PhaseVerify {
				s.endpoint.ready.Store(true)
			}
			s.start()
			inc := s.waitFor(id, "resolved", func(inc api.Incident) bool { return inc.State == api.StateResolved })
			if got := s.dns.count(); got != 1 {
				t.Fatalf("DNS server received %d UPDATEs, want exactly 1", got)
			}
			if got := s.dns.lookup("web.vcr.test."); len(got) != 1 || got[0] != "127.0.0.1" {
				t.Fatalf("web.vcr.test. = %v, want [127.0.0.1]", got)
			}
			ph := inc.Phase(p.phase)
			if ph == nil || ph.Outcome != api.OutcomeOK || ph.Attempts < 2 {
				t.Fatalf("killed phase %s = %+v; want ok after a resumed attempt", p.phase, ph)
			}
			if !s.proc.LogContains("resuming incident after restart") {
				t.Error("restarted receiver did not log the resume")
			}
			s.proc.Stop(t, 10*time.Second)
			j, err := journal.OpenBolt(filepath.Join(s.dir, "journal.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			evs, _ := j.Events(context.Background(), 0)
			sent := 0
			for _, e := range evs {
				if e.Kind == "dns-update" {
					sent++
				}
			}
			if sent != 1 {
				t.Errorf("journal records %d dns-update sends, want 1", sent)
			}
		})
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// TestCrashDuringSwitchRealNamed freezes a real named (SIGSTOP) so the
// receiver's UPDATE waits in named's socket, SIGKILLs the receiver after it
// journaled "switch started", lets named apply the UPDATE, and restarts the
// receiver: it must see DNS already switched and not send a second UPDATE.
func TestCrashDuringSwitchRealNamed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary and named")
	}
	named := testenv.StartNamed(t, testenv.NamedOptions{Zone: "vcr.test.", Records: map[string]string{"web": "127.0.0.9"}})
	s := newStack(t, stackOpts{named: named, prepareSleep: "0", gracePeriod: "0s", dnsTimeout: "1s", finalizeSleep: "0"})
	// The endpoint answers 503 at first, holding the pipeline in verify
	// until named is frozen.
	id := s.postShutoff()
	s.waitFor(id, "verifying", func(i api.Incident) bool { return i.State == api.StateVerifying })
	if err := named.Proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			named.Proc.Signal(syscall.SIGCONT)
		}
	}()
	s.endpoint.ready.Store(true)
	s.waitFor(id, "switch started", func(i api.Incident) bool { return i.DNS != nil && i.DNS.SwitchStartedAt != nil })
	time.Sleep(100 * time.Millisecond) // the UPDATE is on its way
	s.proc.Kill()
	named.Proc.Signal(syscall.SIGCONT)
	stopped = false
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got := named.Lookup(t, "web.vcr.test."); len(got) == 1 && got[0] == "127.0.0.1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("named never applied the UPDATE sent before the kill: %v", named.Lookup(t, "web.vcr.test."))
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.start()
	inc := s.waitFor(id, "resolved", func(i api.Incident) bool { return i.State == api.StateResolved })
	msgs := strings.Join(inc.Phase(api.PhaseSwitch).Messages, "|")
	if !strings.Contains(msgs, "not sending it again") {
		t.Errorf("switch phase messages do not show the skipped resend: %s", msgs)
	}
	s.proc.Stop(t, 10*time.Second)
	j, err := journal.OpenBolt(filepath.Join(s.dir, "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	evs, _ := j.Events(context.Background(), 0)
	sent := 0
	for _, e := range evs {
		if e.Kind == "dns-update" {
			sent++
		}
	}
	if sent != 1 {
		t.Fatalf("the receiver sent %d UPDATEs, want 1", sent)
	}
}
