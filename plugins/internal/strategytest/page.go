package strategytest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// Get fetches the service page at addr:port, or returns the error. Keep-alives
// are off so each probe opens a fresh connection, as a client after a
// failover would.
func Get(addr string, port int) (string, error) {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(fmt.Sprintf("http://%s:%d/", addr, port))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %s", resp.Status)
	}
	return string(b), err
}

// PageReady polls the service every 10 ms until it serves want, or ctx ends.
func PageReady(ctx context.Context, addr string, port int, want string) error {
	var last error
	for {
		page, err := Get(addr, port)
		if err == nil && page == want {
			return nil
		}
		last = fmt.Errorf("page %q, err %v", page, err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s:%d never served %q: %w (last: %v)", addr, port, want, ctx.Err(), last)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// WaitPage fails the test unless the service serves want within the given
// time, and returns how long it took.
func WaitPage(t testing.TB, addr string, port int, want string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := PageReady(ctx, addr, port, want); err != nil {
		t.Fatalf("within %s: %v", within, err)
	}
	return time.Since(start)
}
