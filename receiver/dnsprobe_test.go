package receiver

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
	"github.com/vcrcovery/vcrcovery/receiver/journal"
	"github.com/vcrcovery/vcrcovery/receiver/live"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// namedReceiver is a receiver whose DNS side is real: live.DNS against a
// real named, with the zone's key or a wrong one.
func namedReceiver(t *testing.T, named *testenv.Named, secretFile string) (*Receiver, *httptest.Server, *prometheus.Registry) {
	t.Helper()
	dir := t.TempDir()
	text := `
pipeline: {max_attempts: 3, backoff: 10ms, max_backoff: 40ms}
dns_servers:
  - {name: main, address: "` + named.Addr + `", key_name: ` + named.KeyName + `, secret_file: ` + secretFile + `, probe_interval: 1h}
services:
  - name: web
    primary: {domain: web01, host: {name: hv1, socket: /x}, address: 127.0.0.10, port: 8080}
    strategy: {name: warm}
    dns: {name: web.vcr.test., zone: vcr.test., ttl: 1}
`
	path := filepath.Join(dir, "c.yml")
	os.WriteFile(path, []byte(text), 0o600)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.OpenBolt(filepath.Join(dir, "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	r, err := New(Options{Config: cfg, Journal: j, Fencer: &fakeFencer{}, Strategies: &fakeStrategies{}, Prober: &fakeProber{},
		DNS: live.DNS{}, DNSProbe: live.DNS{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: reg, Clock: &fastClock{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r.Handler(reg))
	t.Cleanup(func() { srv.Close(); r.Shutdown(context.Background()); j.Close() })
	return r, srv, reg
}

func ready(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url + "/-/ready")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDNSProbeAgainstNamed: the signed SOA probe of a real named passes with
// the zone's key and fails with a wrong one, and readiness and the metrics
// say so. With the wrong key a switch fails at once with the key's hint
// instead of being retried.
func TestDNSProbeAgainstNamed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts named")
	}
	named := testenv.StartNamed(t, testenv.NamedOptions{Zone: "vcr.test.", Records: map[string]string{"web": "127.0.0.10"}})

	t.Run("right key", func(t *testing.T) {
		r, srv, _ := namedReceiver(t, named, named.KeyFile)
		if code, body := ready(t, srv.URL); code != 200 {
			t.Fatalf("/-/ready = %d %s, want 200", code, body)
		}
		if got := testutil.ToFloat64(r.m.dnsProbeSuccess.WithLabelValues("main")); got != 1 {
			t.Errorf("vcr_receiver_dns_probe_success = %v, want 1", got)
		}
		if got := testutil.ToFloat64(r.m.dnsProbeLastSuccess.WithLabelValues("main")); got <= 0 {
			t.Errorf("vcr_receiver_dns_probe_last_success_timestamp_seconds = %v", got)
		}
	})

	t.Run("wrong key", func(t *testing.T) {
		wrong := filepath.Join(t.TempDir(), "wrong.secret")
		os.WriteFile(wrong, []byte(base64.StdEncoding.EncodeToString([]byte("definitely-not-the-right-secret!"))), 0o600)
		r, srv, _ := namedReceiver(t, named, wrong)
		code, body := ready(t, srv.URL)
		if code != 503 || !strings.Contains(body, "DNS server main failed its signed probe") || !strings.Contains(body, "BADSIG") {
			t.Fatalf("/-/ready = %d %q, want 503 naming the server and BADSIG", code, body)
		}
		if got := testutil.ToFloat64(r.m.dnsProbeSuccess.WithLabelValues("main")); got != 0 {
			t.Errorf("vcr_receiver_dns_probe_success = %v, want 0", got)
		}
		ids, err := r.Ingest(context.Background(), mustDecode(t, payload("firing", map[string]string{"alertname": "VCRDomainShutoff", "domain": "web01"})))
		if err != nil || len(ids) != 1 {
			t.Fatalf("Ingest = %v, %v", ids, err)
		}
		r.Wait()
		inc, err := r.opts.Journal.Incident(context.Background(), ids[0])
		if err != nil {
			t.Fatal(err)
		}
		sw := inc.Phase(api.PhaseSwitch)
		if inc.State != api.StateFailed || sw == nil || sw.Attempts != 1 || !strings.Contains(inc.Error, "check the TSIG key name and secret") {
			t.Fatalf("incident %s: %s, switch %+v, error %q; want failed after one attempt with the key's hint", inc.ID, inc.State, sw, inc.Error)
		}
		if got := named.Lookup(t, "web"); len(got) != 1 || got[0] != "127.0.0.10" {
			t.Errorf("named answers %v after a refused switch", got)
		}
	})
}

func mustDecode(t *testing.T, body string) *Message {
	t.Helper()
	msg, err := DecodeWebhook([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}
