package lxd

import (
	"fmt"
	"strings"
)

// ProxyDevice returns a proxy device definition that forwards listen (on the
// daemon's host) to connect (inside the instance). Both are LXD addresses such
// as "tcp:127.0.0.2:8080" and "tcp:127.0.0.1:8080"; a plain host:port is taken
// as TCP.
func ProxyDevice(listen, connect string) map[string]string {
	return map[string]string{"type": "proxy", "listen": withProto(listen), "connect": withProto(connect)}
}

func withProto(addr string) string {
	if strings.HasPrefix(addr, "tcp:") || strings.HasPrefix(addr, "udp:") || strings.HasPrefix(addr, "unix:") {
		return addr
	}
	return "tcp:" + addr
}

// ProxyAddress splits an LXD proxy address ("tcp:127.0.0.2:8080") into a Go
// network and address ("tcp", "127.0.0.2:8080"), ready for net.Dial.
func ProxyAddress(lxdAddr string) (network, address string, err error) {
	proto, rest, ok := strings.Cut(lxdAddr, ":")
	if !ok || rest == "" {
		return "", "", fmt.Errorf("lxd: proxy address %q: want proto:address, e.g. tcp:127.0.0.2:8080", lxdAddr)
	}
	switch proto {
	case "tcp", "udp", "unix":
		return proto, rest, nil
	}
	return "", "", fmt.Errorf("lxd: proxy address %q: unknown protocol %q (want tcp, udp or unix)", lxdAddr, proto)
}

// ProxyListen returns the listen address of the named proxy device of inst,
// or, with device empty, of its only proxy device. It looks at the expanded
// devices, so proxies inherited from profiles count.
func (i *Instance) ProxyListen(device string) (string, error) {
	devs := i.ExpandedDevices
	if len(devs) == 0 {
		devs = i.Devices
	}
	if device != "" {
		d, ok := devs[device]
		if !ok || d["type"] != "proxy" {
			return "", fmt.Errorf("instance %q has no proxy device %q; add one with SetDevice and ProxyDevice", i.Name, device)
		}
		return d["listen"], nil
	}
	var found []string
	for _, d := range devs {
		if d["type"] == "proxy" {
			found = append(found, d["listen"])
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("instance %q has %d proxy devices; name the one to use", i.Name, len(found))
	}
	return found[0], nil
}
