package system

// Configuration of vcr-receiver: the config file rendered from the running
// parts (libvirt hosts, LXD remotes, named's TSIG key, backups) and the
// secrets it points at.

import (
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// receiverTokenFile holds the bearer token Alertmanager and vcrctl send.
func (s *System) receiverTokenFile() string { return filepath.Join(s.Dir, "receiver.token") }

// dnsSecretFile holds the TSIG secret of a service with its own DNS key.
func (s *System) dnsSecretFile(service string) string {
	return filepath.Join(s.Dir, service+".tsig.secret")
}

// operatorPasswordFile holds the status page's basic-auth password.
func (s *System) operatorPasswordFile() string { return filepath.Join(s.Dir, "operator.password") }

// writeReceiverConfig writes the receiver's token, the operator's password
// and the config file naming them, and records the config's path.
func (s *System) writeReceiverConfig(t testenv.TB) {
	t.Helper()
	s.ReceiverToken = "vcr-test-token"
	if err := os.WriteFile(s.receiverTokenFile(), []byte(s.ReceiverToken+"\n"), 0o600); err != nil {
		t.Fatalf("system: %v", err)
	}
	if err := os.WriteFile(s.operatorPasswordFile(), []byte(OperatorPassword+"\n"), 0o600); err != nil {
		t.Fatalf("system: %v", err)
	}
	for _, svc := range s.Services {
		if svc.OwnDNSKey {
			s.AcceptDNSUpdates(t, svc.Name)
		}
	}
	cfg, err := yaml.Marshal(s.receiverConfig())
	if err != nil {
		t.Fatalf("system: %v", err)
	}
	s.ConfigFile = filepath.Join(s.Dir, "receiver.yml")
	if err := os.WriteFile(s.ConfigFile, cfg, 0o600); err != nil {
		t.Fatalf("system: %v", err)
	}
}

// receiverConfig renders the receiver's YAML config.
func (s *System) receiverConfig() map[string]any {
	// HTTPS rather than the socket: a scale-up target pulls from the
	// source's HTTPS address.
	remote := func(x *testenv.LXD) map[string]any {
		return map[string]any{"url": x.URL, "client_cert": x.ClientCert, "client_key": x.ClientKey,
			"server_cert": x.ServerCert, "address": x.Address}
	}
	standby := remote(s.Standby)
	if s.Opts.AddressPool != "" {
		standby["address_pool"] = s.Opts.AddressPool
	}
	remotes := map[string]any{"standby": standby}
	if s.Bigger != nil {
		remotes["bigger"] = remote(s.Bigger)
	}
	dnsServer := func(name, secretFile string) map[string]any {
		return map[string]any{"name": name, "address": s.Named.Addr, "key_name": s.Named.KeyName,
			"algorithm": s.Named.Algorithm, "secret_file": secretFile}
	}
	dnsServers := []any{dnsServer("main", s.Named.KeyFile)}
	s.addRealRemote(remotes, remote(s.Standby))
	var services []any
	for _, name := range s.names() {
		svc := s.Services[name]
		socket := s.Libvirt.Socket
		uri := s.Driver.URI
		host := svc.Host
		if svc.RealVM {
			uri, host = "qemu:///system", "hv-qemu"
		}
		if svc.Unfenceable {
			socket = filepath.Join(s.Dir, "unreachable-libvirt-sock")
		}
		settings := map[string]any{"remote": "standby", "instance": name, "proxy_device": "web"}
		service := map[string]any{
			"name": name,
			"primary": map[string]any{
				"domain": svc.Domain, "uuid": svc.UUID,
				"host":    map[string]any{"name": host, "cloud": s.Opts.Cloud, "socket": socket, "uri": uri, "timeout": "2s"},
				"address": svc.PrimaryAddr, "port": svc.Port,
			},
			"strategy": map[string]any{"name": svc.Strategy, "settings": settings},
			"dns":      map[string]any{"name": svc.DNSName, "zone": Zone, "ttl": 1, "server": "main"},
			"check":    map[string]any{"http_path": "/", "timeout": "30s"},
			"fencing":  map[string]any{"grace_period": s.Opts.GracePeriod.String()},
		}
		if svc.OwnDNSKey {
			dnsServers = append(dnsServers, dnsServer(name+"-dns", s.dnsSecretFile(name)))
			service["dns"].(map[string]any)["server"] = name + "-dns"
		}
		if r := svc.Resources; r != nil {
			res := map[string]any{}
			if r.VCPUs > 0 {
				res["vcpus"] = r.VCPUs
			}
			if r.Memory != "" {
				res["memory"] = r.Memory
			}
			service["resources"] = res
		}
		if svc.Real != "" {
			s.realReceiverConfig(svc, settings, service)
		}
		if svc.FlapMinInterval > 0 {
			service["flap"] = map[string]any{"min_interval": svc.FlapMinInterval.String()}
		}
		if s.Bigger != nil && svc.Strategy == "warm" {
			service["scaleup"] = map[string]any{"name": "scaleup", "settings": map[string]any{
				"source": "standby", "target": "bigger", "instance": name, "proxy_device": "web"}}
		}
		services = append(services, service)
	}
	pipeline := map[string]any{"max_attempts": 3, "backoff": "200ms", "max_backoff": "1s",
		"fence_timeout": "5s", "verify_timeout": "30s", "switch_timeout": "5s"}
	if s.Opts.MaxConcurrentPrepares > 0 {
		pipeline["max_concurrent_prepares"] = s.Opts.MaxConcurrentPrepares
	}
	return map[string]any{
		"web": map[string]any{"auth": map[string]any{"bearer_token_file": s.receiverTokenFile(),
			"basic_auth": map[string]any{"username": OperatorUser, "password_file": s.operatorPasswordFile()}}},
		"journal":     map[string]any{"path": filepath.Join(s.Dir, "journal.db")},
		"plugins":     map[string]any{"dir": s.PluginDir, "timeout": "1m"},
		"pipeline":    pipeline,
		"dns_servers": dnsServers,
		"lxd_remotes": remotes,
		"backup_dir":  s.BackupDir,
		"services":    services,
	}
}
