package probe

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// closedPort returns a loopback port that nothing listens on: it was bound
// and released, so connects to it are refused.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func hostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(strings.TrimPrefix(addr, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

func TestOnceTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	h, p := hostPort(t, l.Addr().String())
	if err := Once(context.Background(), Check{Address: h, Port: p}); err != nil {
		t.Fatalf("open port: %v", err)
	}

	closed := closedPort(t)
	err = Once(context.Background(), Check{Address: "127.0.0.1", Port: closed})
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("closed port: got %v, want ECONNREFUSED", err)
	}
	want := "connection refused on 127.0.0.1:" + strconv.Itoa(closed)
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}

func TestOnceHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.WriteHeader(http.StatusOK)
		case "/created":
			w.WriteHeader(http.StatusCreated)
		case "/moved":
			http.Redirect(w, r, "/healthz", http.StatusFound)
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	h, p := hostPort(t, srv.URL)

	tests := []struct {
		name    string
		check   Check
		wantErr error // nil means ready
		wantMsg string
	}{
		{"200 default", Check{HTTPPath: "/healthz"}, nil, ""},
		{"path without slash", Check{HTTPPath: "healthz"}, nil, ""},
		{"503", Check{HTTPPath: "/down"}, ErrUnexpectedStatus, "returned 503, want 200"},
		{"expect 201", Check{HTTPPath: "/created", ExpectStatus: 201}, nil, ""},
		{"201 but want 200", Check{HTTPPath: "/created"}, ErrUnexpectedStatus, "returned 201, want 200"},
		{"redirect not followed", Check{HTTPPath: "/moved"}, ErrUnexpectedStatus, "returned 302"},
		{"redirect expected", Check{HTTPPath: "/moved", ExpectStatus: 302}, nil, ""},
		{"attempt timeout", Check{HTTPPath: "/slow", AttemptTimeout: 50 * time.Millisecond}, context.DeadlineExceeded, "no answer within 50ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.check
			c.Address, c.Port = h, p
			err := Once(context.Background(), c)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("want ready, got %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want errors.Is %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestInvalidCheck(t *testing.T) {
	for _, c := range []Check{
		{},
		{Address: "127.0.0.1"},
		{Address: "127.0.0.1", Port: 70000},
		{Address: "127.0.0.1", Port: 80, HTTPPath: "/", ExpectStatus: 42},
		{Address: "127.0.0.1", Port: 80, Interval: -time.Second},
	} {
		if err := Once(context.Background(), c); err == nil {
			t.Errorf("Once(%+v) accepted an invalid check", c)
		}
		res, err := Wait(context.Background(), c)
		if err == nil || res.Attempts != 0 {
			t.Errorf("Wait(%+v) = %+v, %v; want a validation error and no attempts", c, res, err)
		}
	}
}

func TestWaitBecomesReady(t *testing.T) {
	port := closedPort(t)
	// The listener comes up after a few refused attempts, as a container
	// that is still starting would.
	go func() {
		time.Sleep(200 * time.Millisecond)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
		t.Cleanup(func() { srv.Close() })
		srv.Serve(l)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := Wait(ctx, Check{Address: "127.0.0.1", Port: port, HTTPPath: "/", Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if res.Attempts < 2 {
		t.Fatalf("ready after %d attempts; the listener started late, so want several", res.Attempts)
	}
	if res.Elapsed < 150*time.Millisecond {
		t.Fatalf("Elapsed %v is shorter than the listener's start delay", res.Elapsed)
	}
}

func TestWaitDeadline(t *testing.T) {
	port := closedPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res, err := Wait(ctx, Check{Address: "127.0.0.1", Port: port, Interval: 20 * time.Millisecond})
	var nre *NotReadyError
	if !errors.As(err, &nre) {
		t.Fatalf("got %T %v, want *NotReadyError", err, err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v should wrap ECONNREFUSED and DeadlineExceeded", err)
	}
	if res.Attempts < 3 || res.Attempts != nre.Attempts {
		t.Fatalf("attempts: result %d, error %d; want the same and several", res.Attempts, nre.Attempts)
	}
	want := "connection refused on 127.0.0.1:" + strconv.Itoa(port) + " after " + strconv.Itoa(res.Attempts) + " attempts"
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}

// A hanging endpoint: each attempt runs into AttemptTimeout and the report
// must say so rather than blame the caller's deadline.
func TestWaitHangingEndpoint(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer srv.Close()
	h, p := hostPort(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	res, err := Wait(ctx, Check{Address: h, Port: p, HTTPPath: "/", AttemptTimeout: 100 * time.Millisecond, Interval: 10 * time.Millisecond})
	if err == nil {
		t.Fatal("a hanging endpoint was reported ready")
	}
	if !strings.Contains(err.Error(), "no answer within 100ms") {
		t.Fatalf("error %q should name the attempt timeout", err)
	}
	if res.Attempts < 2 || int(hits.Load()) < res.Attempts {
		t.Fatalf("attempts %d, server saw %d", res.Attempts, hits.Load())
	}
}

func TestWaitCancelledBeforeFirstAttempt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Wait(ctx, Check{Address: "127.0.0.1", Port: 1})
	if res.Attempts != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %+v, %v; want no attempts and context.Canceled", res, err)
	}
	if !strings.Contains(err.Error(), "no attempt finished") {
		t.Fatalf("error %q should say no attempt finished", err)
	}
}
