package system

import (
	"github.com/vcrcovery/vcrcovery/dnsupdate"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// DNSClient queries and updates the authoritative named with its TSIG key,
// as the benchmarks do to time a switch from outside the receiver.
func DNSClient(t testenv.TB, named *testenv.Named) *dnsupdate.Client {
	t.Helper()
	dc, err := dnsupdate.New(dnsupdate.Config{Server: named.Addr, KeyName: named.KeyName,
		Algorithm: named.Algorithm, Secret: named.KeySecret})
	if err != nil {
		t.Fatalf("system: dns client: %v", err)
	}
	return dc
}
