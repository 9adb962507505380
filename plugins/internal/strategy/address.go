package strategy

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/sdk"
)

// KeyAddress records on an instance the address its service listens on,
// on the remote it is on.
const KeyAddress = "user.vcrcovery.address"

// ledgerAddress prefixes, in the ledger, the key that records an
// instance's pool address: user.vcrcovery.address.<instance> = <address>.
const ledgerAddress = KeyAddress + "."

// maxPoolScan bounds how many addresses of a (large, IPv6) pool are
// considered; no standby holds more services than that.
const maxPoolScan = 1 << 16

// ServiceAddress decides the address the instance listens on, on remote r
// (called remoteName in lxd_remotes), and whether that address is the
// service's own there:
//
//   - fixed, when the service's settings give one (`address`);
//   - else one of r.AddressPool, the same one every time: the first claim
//     records it in the ledger (ledger.go), later ones read it back. prefer,
//     the address the instance listens on now, is taken when it lies in the
//     pool and is no one else's, so a standby made by hand keeps its
//     address; otherwise the search starts at a place given by the
//     instance's name, so allocation does not depend on order;
//   - else r.Address, the one address of the remote's VM, shared by its
//     services (two services on the same port then collide there), and own
//     is false;
//   - else "": the proxy keeps the address it listens on.
func ServiceAddress(ctx context.Context, c *lxd.Client, remoteName string, r sdk.LXDRemote, instance, fixed, prefer string) (addr string, own bool, err error) {
	switch {
	case fixed != "":
		if _, err := netip.ParseAddr(fixed); err != nil {
			return "", false, fmt.Errorf("address %q is not an IP address: fix the service's address setting", fixed)
		}
		return fixed, true, nil
	case r.AddressPool != "":
		pool, err := netip.ParsePrefix(r.AddressPool)
		if err != nil {
			return "", false, fmt.Errorf("lxd_remotes.%s.address_pool %q is not a prefix such as 127.0.1.0/24", remoteName, r.AddressPool)
		}
		a, err := claimPoolAddress(ctx, c, remoteName, pool.Masked(), r.Address, instance, prefer)
		if err != nil {
			return "", false, err
		}
		return a.String(), true, nil
	}
	return r.Address, false, nil
}

// claimPoolAddress returns the pool address recorded for instance, or
// records and returns a free one.
func claimPoolAddress(ctx context.Context, c *lxd.Client, remoteName string, pool netip.Prefix, vmAddress, instance, prefer string) (netip.Addr, error) {
	// Once claimed, an address is one ledger read away.
	entries, err := ReadLedger(ctx, c)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("address pool of %q: %w", remoteName, err)
	}
	if a, err := netip.ParseAddr(entries[ledgerAddress+instance]); err == nil && pool.Contains(a) {
		return a, nil
	}
	// Addresses taken outside the ledger: what other instances' proxies
	// listen on, and the VM's own address.
	insts, err := c.ListInstances(ctx)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("address pool of %q: %w", remoteName, err)
	}
	busy := map[netip.Addr]string{}
	if a, err := netip.ParseAddr(vmAddress); err == nil {
		busy[a] = "the VM itself (lxd_remotes." + remoteName + ".address)"
	}
	for _, in := range insts {
		if in.Name == instance {
			continue
		}
		for _, a := range listenAddresses(&in) {
			busy[a] = in.Name
		}
	}
	var got netip.Addr
	err = UpdateLedger(ctx, c, func(entries map[string]string) (bool, error) {
		if a, err := netip.ParseAddr(entries[ledgerAddress+instance]); err == nil && pool.Contains(a) {
			got = a
			return false, nil
		}
		taken := maps.Clone(busy)
		for k, v := range entries {
			if name, ok := strings.CutPrefix(k, ledgerAddress); ok && name != instance {
				if a, err := netip.ParseAddr(v); err == nil {
					taken[a] = name
				}
			}
		}
		a, ok := pickAddress(pool, taken, instance, prefer)
		if !ok {
			return false, sdk.NeedsAttention(fmt.Errorf("address pool %s of remote %q has no free address for %s (%d taken): widen lxd_remotes.%s.address_pool, or free the address of a service gone for good with `lxc profile unset %s %s<instance>` on that remote",
				pool, remoteName, instance, len(taken), remoteName, LedgerProfile, ledgerAddress))
		}
		entries[ledgerAddress+instance] = a.String()
		got = a
		return true, nil
	})
	return got, err
}

// pickAddress chooses a free pool address for instance: prefer when free,
// else the first free one from a start given by the instance's name.
func pickAddress(pool netip.Prefix, taken map[netip.Addr]string, instance, prefer string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(prefer); err == nil && pool.Contains(a) && usable(pool, a) {
		if _, t := taken[a]; !t {
			return a, true
		}
	}
	hostBits := pool.Addr().BitLen() - pool.Bits()
	n := uint64(maxPoolScan)
	if hostBits < 16 {
		n = 1 << hostBits
	}
	h := fnv.New64a()
	h.Write([]byte(instance))
	start := h.Sum64() % n
	for i := range n {
		a := addrAdd(pool.Addr(), (start+i)%n)
		if _, t := taken[a]; !t && usable(pool, a) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// usable leaves out an IPv4 pool's network and broadcast addresses.
func usable(pool netip.Prefix, a netip.Addr) bool {
	if !a.Is4() || pool.Bits() > 30 {
		return true
	}
	last := addrAdd(pool.Addr(), 1<<(32-pool.Bits())-1)
	return a != pool.Addr() && a != last
}

// addrAdd returns a + k.
func addrAdd(a netip.Addr, k uint64) netip.Addr {
	b := a.As16()
	for i := 15; i >= 0 && k > 0; i-- {
		sum := uint64(b[i]) + k&0xff
		b[i] = byte(sum)
		k = k>>8 + sum>>8
	}
	out := netip.AddrFrom16(b)
	if a.Is4() {
		out = out.Unmap()
	}
	return out
}

// listenAddresses are the specific addresses inst's proxy devices listen
// on, and the one its address mark records.
func listenAddresses(inst *lxd.Instance) []netip.Addr {
	var out []netip.Addr
	if a, err := netip.ParseAddr(inst.Config[KeyAddress]); err == nil {
		out = append(out, a)
	}
	devs := inst.ExpandedDevices
	if len(devs) == 0 {
		devs = inst.Devices
	}
	for _, d := range devs {
		if d["type"] != "proxy" {
			continue
		}
		_, hostport, err := lxd.ProxyAddress(d["listen"])
		if err != nil {
			continue
		}
		host, _, err := net.SplitHostPort(hostport)
		if err != nil {
			continue
		}
		if a, err := netip.ParseAddr(host); err == nil && !a.IsUnspecified() {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// ListenHost returns the host the instance's proxy device listens on, ""
// if it has no such device or listens on no single address.
func ListenHost(inst *lxd.Instance, device string) string {
	listen, err := inst.ProxyListen(device)
	if err != nil {
		return ""
	}
	_, hostport, err := lxd.ProxyAddress(listen)
	if err != nil {
		return ""
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return ""
	}
	return host
}

// Listen points the named instance's proxy device at addr, keeping its
// port, and records addr on the instance (KeyAddress), in one write under
// the instance's ETag, read again if it changed meanwhile. It writes
// nothing when both are already so. A running container's proxy moves at
// once.
func Listen(ctx context.Context, c *lxd.Client, name, device, addr string) error {
	for range 3 {
		inst, etag, err := c.GetInstance(ctx, name)
		if err != nil {
			return err
		}
		dev, ok := inst.Devices[device]
		if !ok {
			// A profile's proxy cannot be edited per instance; an
			// instance device of the same name overrides it.
			dev, ok = inst.ExpandedDevices[device]
		}
		if !ok || dev["type"] != "proxy" {
			return fmt.Errorf("instance %q has no proxy device %q: add one (listen=tcp:<addr>:<port> connect=tcp:127.0.0.1:<port>)", name, device)
		}
		listen, err := RewriteListen(dev["listen"], addr)
		if err != nil {
			return fmt.Errorf("instance %q device %q: %w", name, device, err)
		}
		if listen == dev["listen"] && inst.Config[KeyAddress] == addr {
			return nil
		}
		put := inst.Writable()
		put.Config = maps.Clone(put.Config)
		if put.Config == nil {
			put.Config = map[string]string{}
		}
		put.Config[KeyAddress] = addr
		put.Devices = maps.Clone(put.Devices)
		if put.Devices == nil {
			put.Devices = map[string]map[string]string{}
		}
		nd := maps.Clone(dev)
		nd["listen"] = listen
		put.Devices[device] = nd
		err = c.UpdateInstance(ctx, name, put, etag)
		var le *lxd.Error
		if !errors.As(err, &le) || le.StatusCode != http.StatusPreconditionFailed {
			if err != nil {
				return fmt.Errorf("make instance %q listen on %s: %w", name, addr, err)
			}
			return nil
		}
	}
	return fmt.Errorf("make instance %q listen on %s: it kept changing meanwhile; retry", name, addr)
}
