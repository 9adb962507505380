// Package syncapi is vcr-sync's HTTP API as the recovery sees it: the results
// of promote, reverse and resume, and a small client for them. The warm
// strategy promotes through it at a failover, the receiver reverses and
// resumes through it at a failback; neither needs the daemon's code (SSH,
// MariaDB) to do so.
package syncapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// PromoteResult says what the promoted standby holds.
type PromoteResult struct {
	Service string `json:"service"`
	// GTID is the position the standby reached: every transaction up to it is
	// on the standby.
	GTID string `json:"gtid,omitempty"`
	// LagSeconds is the age of the newest heartbeat the standby had applied
	// when it was promoted: the data lost is at most this old. The incident
	// records it; a lag beyond the rpo blocks nothing.
	LagSeconds *float64 `json:"lag_seconds,omitempty"`
	// FilesAgeSeconds is the age of the last complete file copy.
	FilesAgeSeconds *float64 `json:"files_age_seconds,omitempty"`
	// RPOSeconds is the service's rpo; BeyondRPO is set when the database's
	// lag or the files' age exceeded it at the promotion.
	RPOSeconds float64 `json:"rpo_seconds,omitempty"`
	BeyondRPO  bool    `json:"beyond_rpo,omitempty"`
}

// Details are the result as an incident's endpoint details.
func (p PromoteResult) Details() map[string]string {
	d := map[string]string{}
	if p.GTID != "" {
		d["sync_gtid"] = p.GTID
	}
	if p.LagSeconds != nil {
		d["sync_lag_seconds"] = strconv.FormatFloat(*p.LagSeconds, 'f', 3, 64)
	}
	if p.FilesAgeSeconds != nil {
		d["sync_files_age_seconds"] = strconv.FormatFloat(*p.FilesAgeSeconds, 'f', 3, 64)
	}
	if p.RPOSeconds > 0 {
		d["sync_rpo_seconds"] = strconv.FormatFloat(p.RPOSeconds, 'f', -1, 64)
	}
	if p.BeyondRPO {
		d["sync_beyond_rpo"] = "true"
	}
	return d
}

// ReverseResult says what reached the old primary.
type ReverseResult struct {
	Service     string `json:"service"`
	FilesBytes  int64  `json:"files_bytes"`
	PrimaryGTID string `json:"primary_gtid,omitempty"` // where the old primary starts following the standby
}

// ResumeResult says where the primary took over again.
type ResumeResult struct {
	Service string `json:"service"`
	GTID    string `json:"gtid,omitempty"`
}

// Error is an answer of the daemon other than 200: its status, and the
// cause and fix the daemon named.
type Error struct {
	Op, Service string
	Status      int
	Message     string `json:"error"`
	Cause       string `json:"cause"`
	Fix         string `json:"fix"`
}

func (e *Error) Error() string {
	s := fmt.Sprintf("vcr-sync %s %s: %d: %s", e.Op, e.Service, e.Status, e.Message)
	if e.Fix != "" {
		s += ": " + e.Fix
	}
	return s
}

// WrongMode reports whether the daemon refused the call because the
// service is not in the mode the call follows (409): for example a resume
// that already happened.
func (e *Error) WrongMode() bool { return e.Status == http.StatusConflict }

// Client calls one vcr-sync daemon.
type Client struct {
	// URL is the daemon's base URL, e.g. http://127.0.0.1:9480.
	URL string
	// HTTP defaults to a client with a 2-minute timeout (a reverse copies the
	// files back before it answers).
	HTTP *http.Client
}

// CheckURL says whether u can be a Client's URL, for config validation.
func CheckURL(u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL of vcr-sync, such as http://127.0.0.1:9480", u)
	}
	return nil
}

// Promote is POST /api/v1/services/{service}/promote.
func (c Client) Promote(ctx context.Context, service string) (PromoteResult, error) {
	var r PromoteResult
	return r, c.post(ctx, "promote", service, &r)
}

// Reverse is POST /api/v1/services/{service}/reverse.
func (c Client) Reverse(ctx context.Context, service string) (ReverseResult, error) {
	var r ReverseResult
	return r, c.post(ctx, "reverse", service, &r)
}

// Resume is POST /api/v1/services/{service}/resume.
func (c Client) Resume(ctx context.Context, service string) (ResumeResult, error) {
	var r ResumeResult
	return r, c.post(ctx, "resume", service, &r)
}

func (c Client) post(ctx context.Context, op, service string, out any) error {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	u := strings.TrimRight(c.URL, "/") + "/api/v1/services/" + url.PathEscape(service) + "/" + op
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(nil))
	if err != nil {
		return fmt.Errorf("vcr-sync %s %s: %w", op, service, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("vcr-sync %s %s: %w (is vcr-sync running at %s?)", op, service, err, c.URL)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("vcr-sync %s %s: read answer: %w", op, service, err)
	}
	if resp.StatusCode != http.StatusOK {
		e := &Error{Op: op, Service: service, Status: resp.StatusCode}
		if json.Unmarshal(body, e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(body))
		}
		return e
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("vcr-sync %s %s: answer is not JSON: %w", op, service, err)
	}
	return nil
}

// IsWrongMode reports whether err is the daemon's 409.
func IsWrongMode(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.WrongMode()
}
