package testenv

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// PrometheusOptions configures StartPrometheus.
type PrometheusOptions struct {
	// ConfigYAML is the configuration. If empty: scrape and evaluation every 1s,
	// no scrape jobs. Its rule_files are replaced by RuleFiles when RuleFiles is set.
	ConfigYAML string
	RuleFiles  []string // rule files, copied into the temp dir
}

// Prometheus is a running Prometheus server.
type Prometheus struct {
	URL  string // http://127.0.0.1:<port>
	Dir  string
	Proc *Proc
}

// Sample is one element of an instant query's vector result.
type Sample struct {
	Metric map[string]string
	Time   time.Time
	Value  float64
}

// StartPrometheus starts Prometheus on 127.0.0.1:<free port> and waits for /-/ready.
func StartPrometheus(t TB, opts PrometheusOptions) *Prometheus {
	t.Helper()
	p := &Prometheus{Dir: t.TempDir()}
	cfgText := opts.ConfigYAML
	if cfgText == "" {
		cfgText = "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
	}
	if len(opts.RuleFiles) > 0 {
		var cfg map[string]any
		if err := yaml.Unmarshal([]byte(cfgText), &cfg); err != nil {
			t.Fatalf("testenv: StartPrometheus: parse ConfigYAML: %v", err)
		}
		if cfg == nil {
			cfg = map[string]any{}
		}
		var rules []string
		for i, rf := range opts.RuleFiles {
			b, err := os.ReadFile(rf)
			if err != nil {
				t.Fatalf("testenv: StartPrometheus: read rule file: %v", err)
			}
			dst := filepath.Join(p.Dir, strconv.Itoa(i)+"-"+filepath.Base(rf))
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				t.Fatalf("testenv: StartPrometheus: copy rule file: %v", err)
			}
			rules = append(rules, dst)
		}
		cfg["rule_files"] = rules
		b, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("testenv: StartPrometheus: encode config: %v", err)
		}
		cfgText = string(b)
	}
	cfgPath := filepath.Join(p.Dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		t.Fatalf("testenv: write prometheus config: %v", err)
	}
	port := FreePort(t)
	p.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	p.Proc = startProc(t, procSpec{name: "prometheus", bin: "prometheus", pkg: "prometheus",
		dir: p.Dir, log: filepath.Join(p.Dir, "prometheus.log"),
		args: []string{
			"--config.file=" + cfgPath,
			"--storage.tsdb.path=" + filepath.Join(p.Dir, "data"),
			"--web.listen-address=127.0.0.1:" + strconv.Itoa(port),
			"--web.enable-lifecycle",
		}})
	p.Proc.WaitHTTP(t, p.URL+"/-/ready", 60*time.Second)
	return p
}

// Query runs an instant query and returns its vector (a scalar comes back as
// one sample without labels). It fails t on any API error.
func (p *Prometheus) Query(t TB, q string) []Sample {
	t.Helper()
	var resp struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string     `json:"resultType"`
			Result     promResult `json:"result"`
		} `json:"data"`
	}
	getJSON(t, p.URL+"/api/v1/query?"+url.Values{"query": {q}}.Encode(), &resp)
	if resp.Status != "success" {
		t.Fatalf("testenv: query %q: %s", q, resp.Error)
	}
	return resp.Data.Result.samples
}

// promResult decodes the "result" of an instant query: a vector, or a scalar pair.
type promResult struct{ samples []Sample }

func (r *promResult) UnmarshalJSON(b []byte) error {
	var vec []struct {
		Metric map[string]string  `json:"metric"`
		Value  [2]json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &vec); err == nil {
		for _, s := range vec {
			ts, v, err := decodePoint(s.Value)
			if err != nil {
				return err
			}
			r.samples = append(r.samples, Sample{Metric: s.Metric, Time: ts, Value: v})
		}
		return nil
	}
	var pt [2]json.RawMessage
	if err := json.Unmarshal(b, &pt); err != nil {
		return fmt.Errorf("unexpected query result %s", b)
	}
	ts, v, err := decodePoint(pt)
	if err != nil {
		return err
	}
	r.samples = []Sample{{Metric: map[string]string{}, Time: ts, Value: v}}
	return nil
}

func decodePoint(p [2]json.RawMessage) (time.Time, float64, error) {
	var ts float64
	var vs string
	if err := json.Unmarshal(p[0], &ts); err != nil {
		return time.Time{}, 0, fmt.Errorf("query result timestamp %s: %w", p[0], err)
	}
	if err := json.Unmarshal(p[1], &vs); err != nil {
		return time.Time{}, 0, fmt.Errorf("query result value %s: %w", p[1], err)
	}
	v, err := strconv.ParseFloat(vs, 64)
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("query result value %q: %w", vs, err)
	}
	return time.UnixMilli(int64(ts * 1000)), v, nil
}
