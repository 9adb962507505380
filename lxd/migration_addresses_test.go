package lxd_test

// A pull migration dials the source: the target tries every address the
// source reports, in turn, and moves on only when it could not connect.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// self, in a pullFake's addresses, stands for the address the client dialed.
const self = "self"

// pullFake is a migration source reporting addresses, and a target whose
// pull fails as LXD's does ("Unable to connect to") for the dead ones.
type pullFake struct {
	src, dst *fake
	srcOp    int // status of the source operation as GET reports it
	mu       sync.Mutex
	dead     map[string]bool // host:port the target cannot reach
	failWith string          // the pull's failure at a live address, if any
	results  map[string]string
}

func newPullFake(t *testing.T, addresses []string, dead ...string) *pullFake {
	p := &pullFake{src: newFake(t), dst: newFake(t), srcOp: 103, dead: map[string]bool{}, results: map[string]string{}}
	for _, d := range dead {
		p.dead[d] = true
	}
	p.src.route("GET /1.0", func(w http.ResponseWriter, r *http.Request) {
		var addrs []string
		for _, a := range addresses {
			if a == self {
				a = r.Host
			}
			addrs = append(addrs, a)
		}
		sync200(w, map[string]any{"auth": "trusted", "environment": map[string]any{
			"addresses": addrs, "certificate": "-----BEGIN CERTIFICATE-----\nFAKE\n-----END CERTIFICATE-----\n",
		}})
	})
	p.src.route("GET /1.0/instances/web", func(w http.ResponseWriter, r *http.Request) {
		sync200(w, map[string]any{"name": "web", "type": "container", "architecture": "x86_64", "profiles": []string{"default"}})
	})
	p.src.route("POST /1.0/instances/web", func(w http.ResponseWriter, r *http.Request) {
		op := opJSON("mig1", 103, "", nil, map[string]any{"control": "sc", "fs": "sf"})
		op["class"], op["may_cancel"] = "websocket", true
		async202(w, op)
	})
	p.src.route("GET /1.0/operations/mig1", func(w http.ResponseWriter, r *http.Request) {
		sync200(w, opJSON("mig1", p.srcOp, "", nil, nil))
	})
	p.src.route("GET /1.0/operations/mig1/wait", func(w http.ResponseWriter, r *http.Request) {
		sync200(w, opJSON("mig1", 200, "", nil, nil))
	})
	p.src.route("DELETE /1.0/operations/mig1", func(w http.ResponseWriter, r *http.Request) { sync200(w, nil) })
	n := 0
	p.dst.route("POST /1.0/instances", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Source struct{ Operation string } `json:"source"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		u, _ := url.Parse(body.Source.Operation)
		p.mu.Lock()
		id := fmt.Sprintf("pull%d", n)
		n++
		switch {
		case p.dead[u.Host]:
			p.results[id] = fmt.Sprintf("Error transferring instance data: Unable to connect to: %s ([dial tcp %s: connect: connection refused])", u.Host, u.Host)
		default:
			p.results[id] = p.failWith
		}
		p.mu.Unlock()
		async202(w, opJSON(id, 103, "", nil, nil))
	})
	for i := range 4 {
		id := fmt.Sprintf("pull%d", i)
		p.dst.route("GET /1.0/operations/"+id+"/wait", func(w http.ResponseWriter, r *http.Request) {
			p.mu.Lock()
			msg := p.results[id]
			p.mu.Unlock()
			if msg == "" {
				sync200(w, opJSON(id, 200, "", nil, nil))
				return
			}
			sync200(w, opJSON(id, 400, msg, nil, nil))
		})
	}
	return p
}

// dialed lists the source URLs (scheme://host:port) the target was told to
// pull from, in order.
func (p *pullFake) dialed(t *testing.T) []string {
	var out []string
	for _, r := range p.dst.requests("POST", "/1.0/instances") {
		op, _ := decode(t, r.Body)["source"].(map[string]any)["operation"].(string)
		out = append(out, strings.TrimSuffix(op, "/1.0/operations/mig1"))
	}
	return out
}

func TestCopyTriesEverySourceAddress(t *testing.T) {
	ctx := context.Background()
	t.Run("first address dead", func(t *testing.T) {
		p := newPullFake(t, []string{"127.0.0.1:1", "127.0.0.1:18443"}, "127.0.0.1:1")
		s, d := p.src.startUnix(), p.dst.startUnix()
		if err := s.CopyInstance(ctx, d, "web", lxd.CopyOptions{}); err != nil {
			t.Fatalf("copy with a dead first address: %v", err)
		}
		if got := p.dialed(t); strings.Join(got, " ") != "https://127.0.0.1:1 https://127.0.0.1:18443" {
			t.Errorf("target dialed %v, want the dead address, then the live one", got)
		}
		if del := p.src.requests("DELETE", "/1.0/operations/mig1"); len(del) != 0 {
			t.Errorf("source operation cancelled after a successful copy: %v", del)
		}
	})
	t.Run("every address dead", func(t *testing.T) {
		p := newPullFake(t, []string{"127.0.0.1:1", "127.0.0.1:2"}, "127.0.0.1:1", "127.0.0.1:2")
		s, d := p.src.startUnix(), p.dst.startUnix()
		err := s.CopyInstance(ctx, d, "web", lxd.CopyOptions{})
		if err == nil {
			t.Fatal("copy succeeded with no reachable address")
		}
		for _, want := range []string{"https://127.0.0.1:1 (", "nor at https://127.0.0.1:2", "Unable to connect to: 127.0.0.1:2"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		var le *lxd.Error
		if !errors.As(err, &le) {
			t.Errorf("error %v does not carry LXD's *Error", err)
		}
		if del := p.src.requests("DELETE", "/1.0/operations/mig1"); len(del) != 1 {
			t.Errorf("source operation cancel requests = %d, want 1", len(del))
		}
	})
	t.Run("other failure does not move on", func(t *testing.T) {
		p := newPullFake(t, []string{"127.0.0.1:18443", "127.0.0.1:18444"})
		p.failWith = `Failed creating instance record: Add instance info to the database: This "instances" entry already exists`
		s, d := p.src.startUnix(), p.dst.startUnix()
		err := s.CopyInstance(ctx, d, "web", lxd.CopyOptions{})
		if !errors.Is(err, lxd.ErrAlreadyExists) {
			t.Errorf("copy onto an existing instance: %v, want ErrAlreadyExists", err)
		}
		if got := p.dialed(t); len(got) != 1 {
			t.Errorf("target dialed %v, want only the first address", got)
		}
	})
	t.Run("source no longer waiting", func(t *testing.T) {
		p := newPullFake(t, []string{"127.0.0.1:1", "127.0.0.1:18443"}, "127.0.0.1:1")
		p.srcOp = 400 // it failed meanwhile: its secrets are spent
		s, d := p.src.startUnix(), p.dst.startUnix()
		if err := s.CopyInstance(ctx, d, "web", lxd.CopyOptions{}); err == nil {
			t.Fatal("copy succeeded from a source operation that had ended")
		}
		if got := p.dialed(t); len(got) != 1 {
			t.Errorf("target dialed %v, want only the first address", got)
		}
	})
	t.Run("configured URL first, not twice", func(t *testing.T) {
		// The daemon reports the address the client uses too: it must not
		// be tried twice.
		p := newPullFake(t, []string{self, "127.0.0.1:9"})
		s, d := p.src.startTLS(), p.dst.startUnix()
		p.dead[strings.TrimPrefix(p.src.srv.URL, "https://")] = true
		if err := s.CopyInstance(ctx, d, "web", lxd.CopyOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := p.dialed(t); strings.Join(got, " ") != p.src.srv.URL+" https://127.0.0.1:9" {
			t.Errorf("target dialed %v, want the configured URL, then the other address", got)
		}
	})
}

// TestIntegrationCopyPastDeadAddress: with real daemons, a target that cannot
// connect to the first address reports it the way unreachable expects, the
// source operation keeps waiting, and the next address completes the copy.
func TestIntegrationCopyPastDeadAddress(t *testing.T) {
	a, b := testPair(t)
	// By socket, so the source's reported addresses are all there is.
	src, dst := socketClient(t, a), httpsClient(t, b)
	ctx := ctxT(t, 2*time.Minute)
	launch(t, src, "dead-first", servicePort(t, a.Address))
	if err := src.StopInstance(ctx, "dead-first", 0); err != nil {
		t.Fatal(err)
	}
	// Nothing listens there: the dial is refused. Server() is the info the
	// client read at Connect, which CopyInstance takes the addresses from.
	dead := net.JoinHostPort("127.0.0.1", fmt.Sprint(testenv.FreePort(t)))
	srv := src.Server()
	srv.Environment.Addresses = append([]string{dead}, srv.Environment.Addresses...)
	if err := src.CopyInstance(ctx, dst, "dead-first", lxd.CopyOptions{}); err != nil {
		t.Fatalf("copy with a dead first address: %v", err)
	}
	t.Cleanup(func() { remove(dst, "dead-first") })
	if _, _, err := dst.GetInstance(ctx, "dead-first"); err != nil {
		t.Errorf("target after the copy: %v", err)
	}

	// With only the dead address, the error names it and nothing is left
	// running on the source.
	srv.Environment.Addresses = []string{dead}
	err := src.CopyInstance(ctx, dst, "dead-first", lxd.CopyOptions{TargetName: "dead-only"})
	if err == nil {
		remove(dst, "dead-only")
		t.Fatal("copy through a dead address succeeded")
	}
	t.Logf("copy through a dead address: %v", err)
	if !strings.Contains(err.Error(), "https://"+dead) {
		t.Errorf("error %q does not name the address tried", err)
	}
	if _, _, err := dst.GetInstance(ctx, "dead-only"); !errors.Is(err, lxd.ErrNotFound) {
		t.Errorf("failed copy left an instance on the target: %v", err)
	}
}
