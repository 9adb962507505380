package testenv

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// AlertmanagerOptions configures StartAlertmanager.
type AlertmanagerOptions struct {
	// ConfigYAML is the whole configuration. If empty, one route with
	// group_wait 0s sends everything to one receiver, which posts to WebhookURL
	// (with send_resolved) if that is set.
	ConfigYAML string
	WebhookURL string
}

// Alertmanager is a running prometheus-alertmanager with clustering off.
type Alertmanager struct {
	URL  string // http://127.0.0.1:<port>
	Dir  string
	Proc *Proc
}

// AlertSummary is one alert as listed by GET /api/v2/alerts.
type AlertSummary struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Status      struct {
		State       string   `json:"state"` // "active", "suppressed", "unprocessed"
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

// StartAlertmanager starts Alertmanager on 127.0.0.1:<free port> and waits for /-/ready.
func StartAlertmanager(t TB, opts AlertmanagerOptions) *Alertmanager {
	t.Helper()
	a := &Alertmanager{Dir: t.TempDir()}
	cfg := opts.ConfigYAML
	if cfg == "" {
		cfg = `route:
  receiver: default
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: default
`
		if opts.WebhookURL != "" {
			cfg += fmt.Sprintf("    webhook_configs:\n      - url: %q\n        send_resolved: true\n", opts.WebhookURL)
		}
	}
	cfgPath := filepath.Join(a.Dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatalf("testenv: write alertmanager config: %v", err)
	}
	port := FreePort(t)
	a.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	a.Proc = startProc(t, procSpec{name: "alertmanager", bin: "prometheus-alertmanager", pkg: "prometheus-alertmanager",
		dir: a.Dir, log: filepath.Join(a.Dir, "alertmanager.log"),
		args: []string{
			"--config.file=" + cfgPath,
			"--storage.path=" + filepath.Join(a.Dir, "data"),
			"--web.listen-address=127.0.0.1:" + strconv.Itoa(port),
			"--cluster.listen-address=",
			"--log.level=debug",
		}})
	a.Proc.WaitHTTP(t, a.URL+"/-/ready", 30*time.Second)
	return a
}

// Alerts returns GET /api/v2/alerts (active, silenced and inhibited alike).
func (a *Alertmanager) Alerts(t TB) []AlertSummary {
	t.Helper()
	var out []AlertSummary
	getJSON(t, a.URL+"/api/v2/alerts?"+url.Values{"silenced": {"true"}, "inhibited": {"true"}}.Encode(), &out)
	return out
}

// PostAlert posts one alert to /api/v2/alerts. A zero endsAt leaves it firing.
func (a *Alertmanager) PostAlert(t TB, labels, annotations map[string]string, startsAt, endsAt time.Time) {
	t.Helper()
	al := map[string]any{"labels": labels}
	if annotations != nil {
		al["annotations"] = annotations
	}
	if !startsAt.IsZero() {
		al["startsAt"] = startsAt.Format(time.RFC3339Nano)
	}
	if !endsAt.IsZero() {
		al["endsAt"] = endsAt.Format(time.RFC3339Nano)
	}
	postJSON(t, a.URL+"/api/v2/alerts", []any{al})
}
