package receiver

import (
	"fmt"
	"strings"
)

// fleetConfig is a config of n services whose primaries all run on host
// hv1 of cloud c1, every one recovered by the warm strategy on the standby
// remote: one VCRHostHeartbeatLost{host="hv1"} (or VCRCloudDown) names them
// all. Services are svc000, svc001, ...; with priorityEvery > 0 every
// priorityEvery-th service has priority 10.
func fleetConfig(n, priorityEvery int) string {
	var b strings.Builder
	b.WriteString(`
pipeline: {max_attempts: 3, backoff: 10ms, max_backoff: 40ms}
dns_servers:
  - {name: main, address: "127.0.0.1:5353", key_name: k., secret_file: /dev/null}
services:
`)
	for i := range n {
		prio := 0
		if priorityEvery > 0 && i%priorityEvery == 0 {
			prio = 10
		}
		fmt.Fprintf(&b, `  - name: svc%03d
    primary: {domain: dom%03d, host: {name: hv1, cloud: c1, socket: /x}, address: 127.0.1.%d, port: 80}
    strategy: {name: warm, settings: {remote: standby}}
    dns: {name: svc%03d.example.test., zone: example.test.}
    fencing: {grace_period: 0s}
    priority: %d
`, i, i, i%250+1, i, prio)
	}
	return b.String()
}
