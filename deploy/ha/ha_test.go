// Package ha holds the example configuration of three vcr-receiver replicas
// on a three-member etcd; its test keeps the examples valid.
package ha

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vcrcovery/vcrcovery/receiver/config"
)

// TestExamples: the receiver configs parse, use the etcd journal with every
// member, and differ only in the replica name; Alertmanager sends to three
// receivers; the etcd members agree on the cluster.
func TestExamples(t *testing.T) {
	var first *config.Config
	names := map[string]bool{}
	for i := 1; i <= 3; i++ {
		b, err := os.ReadFile(filepath.Join(".", "vcr-receiver-"+string(rune('0'+i))+".yml"))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse(b)
		if err != nil {
			t.Fatalf("vcr-receiver-%d.yml: %v", i, err)
		}
		if cfg.Journal.Backend != "etcd" || len(cfg.Journal.Endpoints) != 3 {
			t.Errorf("vcr-receiver-%d.yml: journal %+v, want etcd with three endpoints", i, cfg.Journal)
		}
		names[cfg.Journal.Replica] = true
		if first == nil {
			first = cfg
			continue
		}
		if !reflect.DeepEqual(cfg.Services, first.Services) || !reflect.DeepEqual(cfg.DNSServers, first.DNSServers) {
			t.Errorf("vcr-receiver-%d.yml: services or DNS servers differ from replica 1; every replica must be able to run every incident", i)
		}
	}
	if len(names) != 3 {
		t.Errorf("replica names %v: each replica needs its own", names)
	}
	var am struct {
		Receivers []struct {
			Name           string           `yaml:"name"`
			WebhookConfigs []map[string]any `yaml:"webhook_configs"`
		} `yaml:"receivers"`
	}
	b, _ := os.ReadFile("alertmanager.yml")
	if err := yaml.Unmarshal(b, &am); err != nil {
		t.Fatal(err)
	}
	hooks := 0
	for _, r := range am.Receivers {
		hooks += len(r.WebhookConfigs)
	}
	if hooks != 3 {
		t.Errorf("alertmanager.yml has %d webhooks, want one per receiver replica", hooks)
	}
	cluster := ""
	for i := 1; i <= 3; i++ {
		var m map[string]any
		b, _ := os.ReadFile("etcd-" + string(rune('0'+i)) + ".yml")
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatalf("etcd-%d.yml: %v", i, err)
		}
		c, _ := m["initial-cluster"].(string)
		if cluster != "" && c != cluster {
			t.Errorf("etcd-%d.yml: initial-cluster differs", i)
		}
		cluster = c
		// Without compaction etcd keeps every revision of the journal
		// until its quota is full and it refuses writes.
		if m["auto-compaction-mode"] != "periodic" || m["auto-compaction-retention"] == nil {
			t.Errorf("etcd-%d.yml: auto-compaction-mode %v, retention %v; want periodic compaction", i, m["auto-compaction-mode"], m["auto-compaction-retention"])
		}
	}
}
