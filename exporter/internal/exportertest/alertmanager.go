package exportertest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Alert is the part of one element of Alertmanager's POST /api/v2/alerts
// body that tests look at. It is decoded independently of the fast path's
// own type, as Alertmanager would decode it (encoding/json matches startsAt
// and endsAt to the fields case-insensitively).
type Alert struct {
	Labels           map[string]string `json:"labels"`
	StartsAt, EndsAt time.Time
}

// AMStub is an Alertmanager that answers with scripted status codes in turn
// (then 200) and records what it got.
type AMStub struct {
	Srv *httptest.Server

	mu       sync.Mutex
	codes    []int
	requests [][]Alert
	got      chan struct{}
}

// NewAMStub starts a stub that answers codes in turn, then 200; t's cleanup
// stops it.
func NewAMStub(t testing.TB, codes ...int) *AMStub {
	s := &AMStub{codes: codes, got: make(chan struct{}, 100)}
	s.Srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/alerts" || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var alerts []Alert
		if err := json.Unmarshal(body, &alerts); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.requests = append(s.requests, alerts)
		code := http.StatusOK
		if len(s.codes) > 0 {
			code, s.codes = s.codes[0], s.codes[1:]
		}
		s.mu.Unlock()
		w.WriteHeader(code)
		s.got <- struct{}{}
	}))
	t.Cleanup(s.Srv.Close)
	return s
}

// Wait blocks until n more requests arrived, or fails t after 5 s.
func (s *AMStub) Wait(t testing.TB, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-s.got:
		case <-time.After(5 * time.Second):
			t.Fatalf("Alertmanager got %d requests, want %d", i, n)
		}
	}
}

// All returns every request body received so far, in order.
func (s *AMStub) All() [][]Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]Alert(nil), s.requests...)
}
