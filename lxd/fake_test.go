package lxd_test

// An in-process fake of the LXD API for the wire-format unit tests.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vcrcovery/vcrcovery/lxd"
)

type recorded struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

// fake serves LXD envelopes from per-route handlers and records requests.
type fake struct {
	t      *testing.T
	mu     sync.Mutex
	reqs   []recorded
	routes map[string]http.HandlerFunc // "METHOD /path"
	srv    *httptest.Server
	socket string
}

func newFake(t *testing.T) *fake {
	f := &fake{t: t, routes: map[string]http.HandlerFunc{}}
	f.route("GET /1.0", func(w http.ResponseWriter, r *http.Request) {
		sync200(w, map[string]any{
			"api_extensions": []string{"instances", "container_backup_override_pool"},
			"api_version":    "1.0", "auth": "trusted",
			"environment": map[string]any{
				"server_name": "fake", "server_version": "5.0.2", "addresses": []string{"127.0.0.1:18443"},
				"certificate": "-----BEGIN CERTIFICATE-----\nFAKE\n-----END CERTIFICATE-----\n",
			},
		})
	})
	return f
}

func (f *fake) route(key string, h http.HandlerFunc) { f.routes[key] = h }

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
	h := f.routes[r.Method+" "+r.URL.Path]
	f.mu.Unlock()
	if h == nil {
		errResp(w, 404, "not found")
		return
	}
	r.Body = io.NopCloser(&byteReader{b: body})
	h(w, r)
}

type byteReader struct{ b []byte }

func (b *byteReader) Read(p []byte) (int, error) {
	if len(b.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.b)
	b.b = b.b[n:]
	return n, nil
}

// requests returns the recorded requests matching method and path.
func (f *fake) requests(method, path string) []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []recorded
	for _, r := range f.reqs {
		if r.Method == method && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// startUnix serves the fake on a unix socket and connects a client to it.
func (f *fake) startUnix() *lxd.Client {
	f.t.Helper()
	f.socket = filepath.Join(f.t.TempDir(), "unix.socket")
	l, err := net.Listen("unix", f.socket)
	if err != nil {
		f.t.Fatal(err)
	}
	f.srv = httptest.NewUnstartedServer(f)
	f.srv.Listener.Close()
	f.srv.Listener = l
	f.srv.Start()
	f.t.Cleanup(f.srv.Close)
	c, err := lxd.Connect(context.Background(), lxd.Config{Socket: f.socket})
	if err != nil {
		f.t.Fatalf("connect to fake: %v", err)
	}
	return c
}

// startTLS serves the fake over HTTPS (requiring a client certificate, as
// LXD does) and connects a client to it by URL, pinning its certificate.
func (f *fake) startTLS() *lxd.Client {
	f.t.Helper()
	f.srv = httptest.NewUnstartedServer(f)
	f.srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	f.srv.StartTLS()
	f.t.Cleanup(f.srv.Close)
	dir := f.t.TempDir()
	if err := makeClientCert(dir); err != nil {
		f.t.Fatal(err)
	}
	serverPEM := filepath.Join(dir, "server.crt")
	if err := os.WriteFile(serverPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}), 0o644); err != nil {
		f.t.Fatal(err)
	}
	c, err := lxd.Connect(context.Background(), lxd.Config{URL: f.srv.URL, ClientCert: filepath.Join(dir, "client.crt"), ClientKey: filepath.Join(dir, "client.key"), ServerCert: serverPEM})
	if err != nil {
		f.t.Fatalf("connect to fake over TLS: %v", err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func sync200(w http.ResponseWriter, meta any) {
	writeJSON(w, 200, map[string]any{"type": "sync", "status": "Success", "status_code": 200, "metadata": meta})
}

func errResp(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"type": "error", "error": msg, "error_code": code})
}

// opJSON is an operation object.
func opJSON(id string, statusCode int, errMsg string, resources map[string][]string, meta map[string]any) map[string]any {
	status := map[int]string{103: "Running", 200: "Success", 400: "Failure", 401: "Cancelled"}[statusCode]
	return map[string]any{
		"id": id, "class": "task", "status": status, "status_code": statusCode, "err": errMsg,
		"resources": resources, "metadata": meta, "may_cancel": false,
	}
}

func async202(w http.ResponseWriter, op map[string]any) {
	writeJSON(w, 202, map[string]any{
		"type": "async", "status": "Operation created", "status_code": 100,
		"operation": "/1.0/operations/" + op["id"].(string), "metadata": op,
	})
}

// asyncOp answers with operation id and makes its wait end with the given
// final state.
func (f *fake) asyncOp(key, id string, final int, errMsg string, resources map[string][]string) {
	f.route(key, func(w http.ResponseWriter, r *http.Request) {
		async202(w, opJSON(id, 103, "", resources, nil))
	})
	f.route("GET /1.0/operations/"+id+"/wait", func(w http.ResponseWriter, r *http.Request) {
		sync200(w, opJSON(id, final, errMsg, resources, nil))
	})
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %q is not JSON: %v", b, err)
	}
	return m
}
