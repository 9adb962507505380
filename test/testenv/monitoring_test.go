package testenv

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAlertmanagerAcceptsAndNotifies(t *testing.T) {
	needRoot(t)
	hooks := make(chan map[string]any, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var v map[string]any
		_ = json.Unmarshal(b, &v)
		hooks <- v
	}))
	defer srv.Close()
	am := StartAlertmanager(t, AlertmanagerOptions{WebhookURL: srv.URL + "/hook"})
	am.PostAlert(t, map[string]string{"alertname": "VCRDomainShutoff", "domain": "web1"}, nil, time.Now(), time.Time{})
	alerts := am.Alerts(t)
	if len(alerts) != 1 || alerts[0].Labels["domain"] != "web1" || alerts[0].Status.State != "active" {
		t.Fatalf("Alerts() = %+v, want the one active alert for web1", alerts)
	}
	select {
	case v := <-hooks:
		if v["status"] != "firing" {
			t.Fatalf("webhook payload status = %v, want firing: %v", v["status"], v)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("webhook not called within 10s; Alertmanager log:\n%s", tailFile(am.Proc.Log, 20))
	}
}

func TestPrometheusScrapesAndEvaluatesRules(t *testing.T) {
	needRoot(t)
	rules := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(rules, []byte(`groups:
  - name: t
    rules:
      - record: vcr_test_up_sum
        expr: sum(up)
`), 0o644); err != nil {
		t.Fatal(err)
	}
	// Prometheus scrapes itself: the port is known only after start, so scrape a
	// static httptest target instead.
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "# TYPE vcr_test_value gauge\nvcr_test_value 42\n")
	}))
	defer target.Close()
	cfg := "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: t\n    static_configs:\n      - targets: ['" +
		strings.TrimPrefix(target.URL, "http://") + "']\n"
	p := StartPrometheus(t, PrometheusOptions{ConfigYAML: cfg, RuleFiles: []string{rules}})
	deadline := time.Now().Add(20 * time.Second)
	for {
		v := p.Query(t, "vcr_test_value")
		r := p.Query(t, "vcr_test_up_sum")
		if len(v) == 1 && v[0].Value == 42 && v[0].Metric["job"] == "t" && len(r) == 1 && r[0].Value == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20s: vcr_test_value = %+v, vcr_test_up_sum = %+v", v, r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if s := p.Query(t, "1+1"); len(s) != 1 || s[0].Value != 2 {
		t.Fatalf("scalar query 1+1 = %+v", s)
	}
}
