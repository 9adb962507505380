package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

const minimal = `
dns_servers:
  - {name: main, address: "127.0.0.1:5353", key_name: k., secret_file: /dev/null}
services:
  - name: web
    primary: {domain: web01, address: 127.0.0.10, port: 8080}
    strategy: {name: warm, settings: {container: web, nested: {a: [1, 2]}}}
    dns: {name: web.example.test., zone: example.test.}
`

func TestParseMinimalAppliesDefaults(t *testing.T) {
	cfg, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Services[0]
	if s.DNS.Server != "main" || s.DNS.TTL != DefaultTTL || s.Fencing.Grace() != DefaultGracePeriod {
		t.Errorf("defaults not applied: %+v", s)
	}
	if cfg.Journal.PruneInterval != time.Hour || cfg.Journal.Retention != 0 || cfg.Pipeline.MaxConcurrentPrepares != DefaultMaxConcurrentPrepares {
		t.Errorf("retention and prepare defaults not applied: %+v %+v", cfg.Journal, cfg.Pipeline)
	}
	if got := s.Strategy.Target(); got != "strategy:warm" {
		t.Errorf("target of a strategy naming no remote = %q", got)
	}
	if cfg.Journal.Backend != "bbolt" || cfg.Pipeline.MaxAttempts != DefaultMaxAttempts {
		t.Errorf("defaults not applied: %+v %+v", cfg.Journal, cfg.Pipeline)
	}
	var settings map[string]any
	if err := json.Unmarshal(s.Strategy.SettingsJSON, &settings); err != nil || settings["container"] != "web" {
		t.Errorf("settings JSON = %s (%v)", s.Strategy.SettingsJSON, err)
	}
}

func TestExampleConfigIsValid(t *testing.T) {
	data, err := os.ReadFile("../testdata/example.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(data)
	if err != nil {
		t.Fatalf("example.yml: %v", err)
	}
	var shared sdk.SharedSettings
	if err := json.Unmarshal(cfg.Shared(), &shared); err != nil || shared.LXDRemotes["standby"].Address != "127.0.0.2" || shared.BackupDir == "" {
		t.Fatalf("Shared = %s (%v)", cfg.Shared(), err)
	}
	if cfg.Services[0].Check.Timeout != time.Minute {
		t.Errorf("check timeout = %v", cfg.Services[0].Check.Timeout)
	}
}

func TestValidationNamesThePath(t *testing.T) {
	cases := []struct {
		name, edit, want string
	}{
		{"zone without dot", `zone: example.test.}`, "services[1].dns.zone: must end with a dot"},
		{"unknown server", `zone: example.test., server: other}`, `services[1].dns.server: no dns_servers entry named "other"`},
		{"name outside zone", `zone: other.test.}`, "services[1].dns.name: web2.example.test. is not inside zone other.test."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			second := `
  - name: web2
    primary: {uuid: 6695eb01-f6a4-8304-79aa-97f2502e193f, address: 127.0.0.11, port: 80}
    strategy: {name: cold}
    dns: {name: web2.example.test., ` + tc.edit + "\n"
			if tc.name == "zone without dot" {
				second = strings.Replace(second, "zone: example.test.}", "zone: example.test}", 1)
			}
			_, err := Parse([]byte(minimal + second))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestValidationErrors(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"unknown key":        {minimal + "bogus: 1\n", "field bogus not found"},
		"empty":              {"", "config is empty"},
		"no services":        {"journal: {backend: bbolt}\n", "services: at least one service is needed"},
		"etcd":               {minimal + "journal: {backend: etcd}\n", "journal.endpoints: must list the etcd members"},
		"bad checksum":       {minimal + "plugins: {checksums: {warm: abc}}\n", "plugins.checksums.warm: must be a SHA-256"},
		"bad algorithm":      {strings.Replace(minimal, "key_name: k.", "key_name: k., algorithm: md5", 1), "dns_servers[0].algorithm"},
		"bad address":        {strings.Replace(minimal, "address: 127.0.0.10", "address: nowhere", 1), "services[0].primary.address"},
		"bad uuid":           {strings.Replace(minimal, "domain: web01", "uuid: xyz", 1), "services[0].primary.uuid"},
		"dup service":        {minimal + "  - name: web\n    primary: {domain: b, address: 127.0.0.1, port: 1}\n    strategy: {name: warm}\n    dns: {name: b.example.test., zone: example.test.}\n", `services[1].name: duplicate service name "web"`},
		"bad http path":      {strings.Replace(minimal, "zone: example.test.}", "zone: example.test.}\n    check: {http_path: health}", 1), "services[0].check.http_path: must start with /"},
		"two documents":      {minimal + "---\n{}\n", "more than one YAML document"},
		"wrong type":         {strings.Replace(minimal, "port: 8080", "port: eighty", 1), "cannot unmarshal"},
		"lxd both":           {minimal + "lxd_remotes: {a: {socket: /x, url: https://h:1}}\n", "lxd_remotes.a: set exactly one of socket or url"},
		"cost field":         {minimal + "cost: {sizes: {m: {hourly_usd: 1}}, primaries: [{size: m, count: 1}], standby_size: big}\n", `cost.standby_size: "big" is not in sizes`},
		"negative period":    {strings.Replace(minimal, "zone: example.test.}", "zone: example.test.}\n    fencing: {grace_period: -1s}", 1), "services[0].fencing.grace_period"},
		"negative retention": {minimal + "journal: {retention: -1h}\n", "journal.retention: must not be negative"},
		"no prepares":        {minimal + "pipeline: {max_concurrent_prepares: -1}\n", "pipeline.max_concurrent_prepares: must be at least 1"},
		"mysql and http":     {strings.Replace(minimal, "zone: example.test.}", "zone: example.test.}\n    check: {http_path: /, mysql: {user: u}}", 1), "services[0].check.mysql: a check is an HTTP GET or a MySQL query"},
		"mysql no user":      {strings.Replace(minimal, "zone: example.test.}", "zone: example.test.}\n    check: {mysql: {query: SELECT 1}}", 1), "services[0].check.mysql.user"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLoadReadsSecrets(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("s3cret\n"), 0o600)
	sec := filepath.Join(dir, "tsig")
	os.WriteFile(sec, []byte("c2VjcmV0\n"), 0o600)
	cfgText := strings.Replace(minimal, "/dev/null", sec, 1) + "web: {auth: {bearer_token_file: " + tok + "}}\n"
	path := filepath.Join(dir, "c.yml")
	os.WriteFile(path, []byte(cfgText), 0o600)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BearerToken != "s3cret" {
		t.Errorf("token = %q", cfg.BearerToken)
	}
	os.Remove(tok)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "web.auth.bearer_token_file") {
		t.Fatalf("missing token file error = %v", err)
	}
}

// A TSIG secret that is not base64 fails at load (and so in --check-config),
// naming the field, not at the first switch after the primary was fenced.
func TestLoadDecodesTheTSIGSecret(t *testing.T) {
	dir := t.TempDir()
	sec := filepath.Join(dir, "tsig")
	os.WriteFile(sec, []byte("this is !!! not base64\n"), 0o600)
	path := filepath.Join(dir, "c.yml")
	os.WriteFile(path, []byte(strings.Replace(minimal, "/dev/null", sec, 1)), 0o600)
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), "dns_servers[0].secret_file: TSIG secret file "+sec+" is not valid base64") {
		t.Fatalf("Load = %v, want an error naming dns_servers[0].secret_file and base64", err)
	}
	os.WriteFile(sec, []byte(`key "vcr-key." { algorithm hmac-sha256; secret "c2VjcmV0"; };`), 0o600)
	if _, err := Load(path); err != nil {
		t.Fatalf("a BIND key file is a valid secret file: %v", err)
	}
}

func FuzzConfigLoad(f *testing.F) {
	f.Add([]byte(minimal))
	if data, err := os.ReadFile("../testdata/example.yml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("services: [{name: x, dns: {zone: a}}]"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err == nil && len(cfg.Services) == 0 {
			t.Fatal("a config without services was accepted")
		}
	})
}

func TestExplicitZeroGracePeriod(t *testing.T) {
	cfg, err := Parse([]byte(strings.Replace(minimal, "zone: example.test.}", "zone: example.test.}\n    fencing: {grace_period: 0s}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if g := cfg.Services[0].Fencing.Grace(); g != 0 {
		t.Fatalf("grace = %v, want 0 (explicit)", g)
	}
}

// A MySQL check's password is read at load, and a missing file names the field.
func TestLoadReadsTheMySQLCheckPassword(t *testing.T) {
	dir := t.TempDir()
	sec := filepath.Join(dir, "tsig")
	os.WriteFile(sec, []byte("c2VjcmV0\n"), 0o600)
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("dbpass\n"), 0o600)
	cfgText := strings.Replace(strings.Replace(minimal, "/dev/null", sec, 1), "zone: example.test.}",
		"zone: example.test.}\n    check: {mysql: {user: probe, password_file: "+pw+", query: SELECT COUNT(*) FROM shop.orders}}", 1)
	path := filepath.Join(dir, "c.yml")
	os.WriteFile(path, []byte(cfgText), 0o600)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := cfg.Services[0].Check.MySQL; m == nil || m.Password != "dbpass" || m.User != "probe" {
		t.Errorf("check.mysql = %+v", m)
	}
	os.Remove(pw)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "services[0].check.mysql.password_file") {
		t.Fatalf("missing password file error = %v", err)
	}
}
