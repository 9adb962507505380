package receiver_test

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// TestVersion1PluginThroughTheReceiver: a strategy binary built before
// protocol 2 still recovers a service through today's receiver. A switch
// that fails for good records the abort as not supported (protocol v1),
// and the incident fails with its cause; once it is acknowledged, the next
// failure is recovered through prepare, verify, switch and finalize.
func TestVersion1PluginThroughTheReceiver(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin from the repository's history and runs the real binary")
	}
	if err := testenv.HasCommit(t, testenv.StrategyV1Commit); err != nil {
		t.Skipf("commit %s is not in this checkout (%v): a source tree without its git history cannot build the old plugin", testenv.StrategyV1Commit[:12], err)
	}
	plugin := filepath.Join(testenv.Version1ExamplePlugin(t), "vcr-strategy-example")
	s := newStack(t, stackOpts{prepareSleep: "0", gracePeriod: "0s", plugin: plugin})
	s.endpoint.ready.Store(true)
	ctx := context.Background()

	// A wrong TSIG secret: the DNS server refuses every UPDATE.
	secretFile := filepath.Join(s.dir, "tsig.secret")
	good, err := os.ReadFile(secretFile)
	if err != nil {
		t.Fatal(err)
	}
	wrong := base64.StdEncoding.EncodeToString([]byte("not-the-key-the-server-knows-xyz"))
	if err := os.WriteFile(secretFile, []byte(wrong+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	id := s.postShutoff()
	failed := s.waitFor(id, "failed", func(i api.Incident) bool { return i.State == api.StateFailed })
	ab := failed.Phase(api.PhaseAbort)
	if sw := failed.Phase(api.PhaseSwitch); sw == nil || sw.Outcome != api.OutcomeFailed || ab == nil || ab.Outcome != api.OutcomeSkipped {
		t.Fatalf("switch %+v, abort %+v; want the switch failed and the abort skipped", sw, ab)
	}
	if !strings.Contains(strings.Join(ab.Messages, "\n"), "not supported by this plugin (protocol v1)") ||
		!strings.HasPrefix(failed.Error, "switch failed: ") || !strings.Contains(failed.Error, "not supported by this plugin (protocol v1)") {
		t.Fatalf("abort messages %q, error %q; want both to say the plugin does not support Abort (protocol v1)", ab.Messages, failed.Error)
	}
	if n := s.dns.count(); n != 0 {
		t.Fatalf("%d UPDATEs applied with a wrong key", n)
	}

	if err := os.WriteFile(secretFile, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.Acknowledge(ctx, id); err != nil {
		t.Fatal(err)
	}
	body := `{"version":"4","status":"firing","receiver":"vcr","groupKey":"g","alerts":[{"status":"firing",` +
		`"labels":{"alertname":"VCRDomainShutoff","domain":"web01"},"startsAt":"` + time.Now().UTC().Format(time.RFC3339Nano) + `","fingerprint":"f2"}]}`
	if code, answer := s.post(body); code != 200 || strings.Contains(answer, id) {
		t.Fatalf("second failure: webhook answered %d: %s", code, answer)
	}
	incs, err := s.client.Incidents(ctx)
	if err != nil || len(incs) != 2 {
		t.Fatalf("incidents after the second failure: %v %v", incs, err)
	}
	done := s.waitFor(incs[0].ID, "resolved", func(i api.Incident) bool { return i.State == api.StateResolved })
	for _, name := range []string{api.PhaseFence, api.PhasePrepare, api.PhaseVerify, api.PhaseSwitch, api.PhaseFinalize} {
		if ph := done.Phase(name); ph == nil || ph.Outcome != api.OutcomeOK {
			t.Errorf("phase %s through the version-1 plugin: %+v", name, ph)
		}
	}
	if n := s.dns.count(); n != 1 {
		t.Errorf("%d UPDATEs applied, want 1", n)
	}
}
