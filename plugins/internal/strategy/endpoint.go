package strategy

import (
	"fmt"
	"net"
	"strconv"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// ProxyEndpoint reads the service endpoint off inst's proxy device. A
// wildcard listen address (0.0.0.0, ::) is replaced by fallback, the address
// the remote's "VM" owns.
func ProxyEndpoint(inst *lxd.Instance, device, fallback string) (sdk.Endpoint, error) {
	listen, err := inst.ProxyListen(device)
	if err != nil {
		return sdk.Endpoint{}, err
	}
	network, addr, err := lxd.ProxyAddress(listen)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("instance %q device %q: %w", inst.Name, device, err)
	}
	if network != "tcp" {
		return sdk.Endpoint{}, fmt.Errorf("instance %q device %q listens on %s: the receiver can only switch DNS to a TCP endpoint", inst.Name, device, listen)
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return sdk.Endpoint{}, fmt.Errorf("instance %q device %q: listen %q: %w", inst.Name, device, listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return sdk.Endpoint{}, fmt.Errorf("instance %q device %q: listen %q has no single port; use one port per service", inst.Name, device, listen)
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		if fallback == "" {
			return sdk.Endpoint{}, fmt.Errorf("instance %q device %q listens on %q, not one address: set the remote's address in lxd_remotes or make the proxy listen on one IP", inst.Name, device, host)
		}
		host = fallback
	}
	return sdk.Endpoint{Address: host, Port: port}, nil
}

// RewriteListen replaces the host of an LXD proxy listen address
// ("tcp:127.0.0.2:8081") by addr, keeping protocol and port, so a container
// restored or moved onto another "VM" listens on that VM's address.
func RewriteListen(listen, addr string) (string, error) {
	network, hostport, err := lxd.ProxyAddress(listen)
	if err != nil {
		return "", err
	}
	if network == "unix" {
		return "", fmt.Errorf("listen %q is a unix socket; the strategies need a TCP or UDP address", listen)
	}
	_, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("listen %q: %w", listen, err)
	}
	if net.ParseIP(addr) == nil {
		return "", fmt.Errorf("address %q is not an IP address: fix the remote's address in lxd_remotes", addr)
	}
	return network + ":" + net.JoinHostPort(addr, port), nil
}
