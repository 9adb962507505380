package main

// A small client for Alertmanager's v2 silences API: the silences that go
// with a maintenance window, created when it starts and expired when it
// stops. Each silence's comment carries the window's ID, so stopping the
// window finds them again.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// silenceTag marks the silences of window id in their comment.
func silenceTag(id string) string { return "[vcr-maintenance " + id + "]" }

type silence struct {
	ID        string        `json:"id,omitempty"`
	Matchers  []api.Matcher `json:"matchers"`
	StartsAt  time.Time     `json:"startsAt"`
	EndsAt    time.Time     `json:"endsAt"`
	CreatedBy string        `json:"createdBy"`
	Comment   string        `json:"comment"`
	Status    *struct {
		State string `json:"state"`
	} `json:"status,omitempty"`
}

// alertmanager is one Alertmanager's v2 API.
type alertmanager struct {
	url string
	hc  *http.Client
}

// silence creates the silences of a window, one per matcher set, ending
// with it, and returns their IDs.
func (am alertmanager) silence(ctx context.Context, w api.Maintenance) ([]string, error) {
	var ids []string
	for _, set := range w.Matchers {
		s := silence{Matchers: set, StartsAt: w.StartsAt, EndsAt: w.EndsAt, CreatedBy: orDash(w.CreatedBy),
			Comment: w.Comment + " " + silenceTag(w.ID)}
		var out struct {
			SilenceID string `json:"silenceID"`
		}
		if err := am.call(ctx, http.MethodPost, "/api/v2/silences", s, &out); err != nil {
			return ids, err
		}
		ids = append(ids, out.SilenceID)
	}
	return ids, nil
}

// expire expires the silences of window id that are still active or
// pending, and returns how many it expired.
func (am alertmanager) expire(ctx context.Context, id string) (int, error) {
	var all []silence
	if err := am.call(ctx, http.MethodGet, "/api/v2/silences", nil, &all); err != nil {
		return 0, err
	}
	n := 0
	for _, s := range all {
		if !strings.Contains(s.Comment, silenceTag(id)) || s.Status == nil || s.Status.State == "expired" {
			continue
		}
		if err := am.call(ctx, http.MethodDelete, "/api/v2/silence/"+url.PathEscape(s.ID), nil, nil); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (am alertmanager) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(am.url, "/")+path, body)
	if err != nil {
		return fmt.Errorf("alertmanager %s: %w", am.url, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := am.hc.Do(req)
	if err != nil {
		return fmt.Errorf("alertmanager %s: %w (is it running there? check --alertmanager.url)", am.url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("alertmanager %s answered %s to %s %s: %s", am.url, resp.Status, method, path, strings.TrimSpace(string(b)))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("alertmanager %s: decode the answer to %s %s: %w", am.url, method, path, err)
	}
	return nil
}
