package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client talks to a vcr-receiver. The zero HTTPClient uses a 30 s timeout;
// set HTTPClient for TLS or mTLS.
type Client struct {
	BaseURL    string
	Token      string // bearer token; empty for none
	Username   string // basic auth, used when Token is empty
	Password   string
	HTTPClient *http.Client
}

// New returns a client for the receiver at baseURL (for example
// "http://127.0.0.1:9478") that sends token as a bearer token if not empty.
func New(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token}
}

// StatusError is a non-2xx answer from the receiver.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("receiver answered %d: %s", e.Code, e.Message)
}

// Incidents lists all incidents, newest first.
func (c *Client) Incidents(ctx context.Context) ([]Incident, error) {
	var out []Incident
	return out, c.do(ctx, http.MethodGet, "/api/v1/incidents", &out)
}

// NextCursorHeader carries the cursor of the next page of
// GET /api/v1/incidents?limit=N; it is absent after the last page.
const NextCursorHeader = "X-Next-Cursor"

// IncidentsPage lists up to limit incidents, newest first, after cursor
// ("" for the newest), and returns the next page's cursor ("" after the
// last page).
func (c *Client) IncidentsPage(ctx context.Context, limit int, cursor string) ([]Incident, string, error) {
	var out []Incident
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	hdr, err := c.doHeader(ctx, http.MethodGet, "/api/v1/incidents?"+q.Encode(), &out)
	return out, hdr.Get(NextCursorHeader), err
}

// Events lists the mass events among the recent incidents, newest first.
func (c *Client) Events(ctx context.Context) ([]MassEvent, error) {
	var out []MassEvent
	return out, c.do(ctx, http.MethodGet, "/api/v1/events", &out)
}

// Incident returns one incident.
func (c *Client) Incident(ctx context.Context, id string) (Incident, error) {
	var out Incident
	return out, c.do(ctx, http.MethodGet, "/api/v1/incidents/"+url.PathEscape(id), &out)
}

// Services lists the configured services and where they run.
func (c *Client) Services(ctx context.Context) ([]ServiceStatus, error) {
	var out []ServiceStatus
	return out, c.do(ctx, http.MethodGet, "/api/v1/services", &out)
}

// Failover starts a manual failover of service and returns the new
// incident: the primary is fenced, and while an unfenced primary still
// answers the incident stops in needs-attention, unless force.
func (c *Client) Failover(ctx context.Context, service string, force bool) (Incident, error) {
	var out Incident
	path := "/api/v1/services/" + url.PathEscape(service) + "/failover"
	if force {
		path += "?force=true"
	}
	return out, c.do(ctx, http.MethodPost, path, &out)
}

// Drill starts a failover drill of service, whose healthy primary is not
// fenced, and returns the new incident.
func (c *Client) Drill(ctx context.Context, service string) (Incident, error) {
	var out Incident
	return out, c.do(ctx, http.MethodPost, "/api/v1/services/"+url.PathEscape(service)+"/drill", &out)
}

// Plan says what a run of kind (KindManualFailover, KindDrill,
// KindFailback) would do to service, phase by phase.
func (c *Client) Plan(ctx context.Context, service string, kind Kind, force bool) (Plan, error) {
	var out Plan
	q := url.Values{"kind": {string(kind)}}
	if force {
		q.Set("force", "true")
	}
	return out, c.do(ctx, http.MethodGet, "/api/v1/services/"+url.PathEscape(service)+"/plan?"+q.Encode(), &out)
}

// Failback switches service back to its primary and returns the new incident.
func (c *Client) Failback(ctx context.Context, service string) (Incident, error) {
	var out Incident
	return out, c.do(ctx, http.MethodPost, "/api/v1/services/"+url.PathEscape(service)+"/failback", &out)
}

// Acknowledge marks an incident as seen by an operator, which frees its
// service for the next incident.
func (c *Client) Acknowledge(ctx context.Context, id string) (Incident, error) {
	var out Incident
	return out, c.do(ctx, http.MethodPost, "/api/v1/incidents/"+url.PathEscape(id)+"/acknowledge", &out)
}

// Retry resumes a failed incident from the phase that failed.
func (c *Client) Retry(ctx context.Context, id string) (Incident, error) {
	var out Incident
	return out, c.do(ctx, http.MethodPost, "/api/v1/incidents/"+url.PathEscape(id)+"/retry", &out)
}

// StartMaintenance opens a maintenance window.
func (c *Client) StartMaintenance(ctx context.Context, req MaintenanceRequest) (Maintenance, error) {
	var out Maintenance
	return out, c.send(ctx, http.MethodPost, "/api/v1/maintenance", req, &out)
}

// StopMaintenance ends a maintenance window now.
func (c *Client) StopMaintenance(ctx context.Context, id string) (Maintenance, error) {
	var out Maintenance
	return out, c.do(ctx, http.MethodDelete, "/api/v1/maintenance/"+url.PathEscape(id), &out)
}

// Maintenance lists the maintenance windows that hold now or ended within
// the last day, newest first.
func (c *Client) Maintenance(ctx context.Context) ([]Maintenance, error) {
	var out []Maintenance
	return out, c.do(ctx, http.MethodGet, "/api/v1/maintenance", &out)
}

// Cancel asks the receiver to stop a running incident's recovery and undo
// what its strategy prepared; it answers with the incident as the request
// left it (the recovery stops shortly after). A recovery whose DNS switch
// has started cannot be cancelled (StatusError 409).
func (c *Client) Cancel(ctx context.Context, id string) (Incident, error) {
	var out Incident
	return out, c.do(ctx, http.MethodPost, "/api/v1/incidents/"+url.PathEscape(id)+"/cancel", &out)
}

func (c *Client) do(ctx context.Context, method, path string, out any) error {
	_, err := c.exchange(ctx, method, path, nil, out)
	return err
}

// doHeader is do, also returning the answer's header.
func (c *Client) doHeader(ctx context.Context, method, path string, out any) (http.Header, error) {
	return c.exchange(ctx, method, path, nil, out)
}

// send makes one request, with in as its JSON body when not nil.
func (c *Client) send(ctx context.Context, method, path string, in, out any) error {
	_, err := c.exchange(ctx, method, path, in, out)
	return err
}

// exchange makes one request, with in as its JSON body when not nil, and
// returns the answer's header.
func (c *Client) exchange(ctx context.Context, method, path string, in, out any) (http.Header, error) {
	hdr := http.Header{}
	var reqBody []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return hdr, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		reqBody = b
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, bytes.NewReader(reqBody))
	if err != nil {
		return hdr, fmt.Errorf("build request %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case c.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.Token)
	case c.Username != "":
		req.SetBasicAuth(c.Username, c.Password)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return hdr, fmt.Errorf("%s %s: %w (is vcr-receiver running at %s?)", method, path, err, c.BaseURL)
	}
	defer resp.Body.Close()
	hdr = resp.Header
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return hdr, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e Error
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return hdr, &StatusError{Code: resp.StatusCode, Message: msg}
	}
	if out == nil {
		return hdr, nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return hdr, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return hdr, nil
}
