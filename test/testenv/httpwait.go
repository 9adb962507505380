package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

var httpClient = &http.Client{Timeout: 5 * time.Second}

// HTTPOK returns nil if GET url answers 200 (5 s timeout): the Ready check of
// a DaemonSpec for a daemon with an HTTP health or metrics endpoint.
func HTTPOK(url string) error {
	resp, err := httpClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

// getJSON GETs url and decodes a 200 JSON answer into v, failing t otherwise.
func getJSON(t TB, url string, v any) {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatalf("testenv: GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("testenv: GET %s: %s: %s", url, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("testenv: GET %s: decode: %v: %s", url, err, b)
	}
}

// postJSON POSTs v as JSON and fails t unless the answer is 2xx.
func postJSON(t TB, url string, v any) {
	t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("testenv: encode body for %s: %v", url, err)
	}
	resp, err := httpClient.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("testenv: POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("testenv: POST %s: %s: %s", url, resp.Status, b)
	}
}

// WaitHTTP polls GET url until it answers 200 or timeout passes; on timeout it
// fails t with the last error and, if diag is not nil, what diag returns.
func WaitHTTP(t TB, url string, timeout time.Duration, diag func() string) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	msg := ""
	if diag != nil {
		msg = "\n" + diag()
	}
	t.Fatalf("testenv: %s did not answer 200 within %s: %v%s", url, timeout, last, msg)
}
