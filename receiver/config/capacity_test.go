package config

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// twoOnStandby is minimal's DNS server with an LXD remote that has an
// address pool and two services on it; %s marks where a test edits.
const twoOnStandby = `
dns_servers:
  - {name: main, address: "127.0.0.1:5353", key_name: k., secret_file: /dev/null}
lxd_remotes:
  standby: {socket: /var/lib/lxd/unix.socket, address: 127.0.0.2, address_pool: 127.0.1.0/24}
  bigger: {socket: /var/lib/lxd2/unix.socket, address: 127.0.0.3}
services:
  - name: web
    primary: {domain: web01, address: 127.0.0.10, port: 80}
    strategy: {name: warm, settings: {remote: standby, address: 127.0.2.1}}
    scaleup: {name: scaleup, settings: {source: standby, target: bigger, target_address: 127.0.3.1}}
    dns: {name: web.example.test., zone: example.test.}
    resources: {vcpus: 0.5, memory: 512MiB}
  - name: shop
    primary: {domain: shop01, address: 127.0.0.11, port: 80}
    strategy: {name: cold, settings: {remote: standby}}
    dns: {name: shop.example.test., zone: example.test.}
`

func TestResourcesAndAddressesValid(t *testing.T) {
	cfg, err := Parse([]byte(twoOnStandby))
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Service("web").Resources; r == nil || r.MemoryBytes != 512<<20 || r.VCPUs != 0.5 {
		t.Fatalf("web resources = %+v", r)
	}
	var shared sdk.SharedSettings
	if err := json.Unmarshal(cfg.Shared(), &shared); err != nil {
		t.Fatal(err)
	}
	if got := shared.Resources["web"]; got != (sdk.Resources{VCPUs: 0.5, MemoryBytes: 512 << 20}) || len(shared.Resources) != 1 {
		t.Errorf("shared resources = %+v", shared.Resources)
	}
	if shared.LXDRemotes["standby"].AddressPool != "127.0.1.0/24" {
		t.Errorf("shared remotes = %+v", shared.LXDRemotes)
	}
}

func TestResourcesAndAddressesInvalid(t *testing.T) {
	for _, tc := range []struct{ name, from, to, want string }{
		{"memory without a unit we know", "memory: 512MiB", "memory: 512mb", `services[0].resources.memory: size "512mb": unknown unit "mb"`},
		{"memory too small", "memory: 512MiB", "memory: 512", `services[0].resources.memory: "512" is less than 1MiB`},
		{"negative vcpus", "vcpus: 0.5", "vcpus: -1", "services[0].resources.vcpus: -1: give the CPUs"},
		{"empty resources", "resources: {vcpus: 0.5, memory: 512MiB}", "resources: {}", "services[0].resources: declares neither vcpus nor memory"},
		{"pool not a prefix", "address_pool: 127.0.1.0/24", "address_pool: 127.0.1.0", `lxd_remotes.standby.address_pool: "127.0.1.0" is not a prefix`},
		{"pool with host bits", "address_pool: 127.0.1.0/24", "address_pool: 127.0.1.7/24", "did you mean 127.0.1.0/24?"},
		{"address in the pool", "address: 127.0.2.1}", "address: 127.0.1.9}", "services[0].strategy.settings.address: 127.0.1.9 lies in lxd_remotes.standby.address_pool 127.0.1.0/24"},
		{"address not an IP", "address: 127.0.2.1}", "address: web.example}", `services[0].strategy.settings.address: "web.example" is not an IP address`},
		{"two services, one address", "strategy: {name: cold, settings: {remote: standby}}", "strategy: {name: cold, settings: {remote: standby, address: 127.0.2.1}}",
			`services[1].strategy.settings.address: 127.0.2.1 on remote "standby" is already web's (services[0].strategy.settings.address)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(twoOnStandby, tc.from) {
				t.Fatalf("fixture lacks %q", tc.from)
			}
			_, err := Parse([]byte(strings.Replace(twoOnStandby, tc.from, tc.to, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
	// The same address on two remotes is two addresses.
	same := strings.Replace(twoOnStandby, "target_address: 127.0.3.1", "target_address: 127.0.2.1", 1)
	if _, err := Parse([]byte(same)); err != nil {
		t.Errorf("one address on two remotes refused: %v", err)
	}
}
