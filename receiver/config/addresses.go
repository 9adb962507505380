package config

import (
	"fmt"
	"net/netip"
	"sort"
)

// A service's own address on a remote is declared in its strategy settings
// under the keys the built-in strategies read: `address` on `remote` (warm,
// cold) and `target_address` on `target` (scaleup). Other remotes hand out
// addresses from their address_pool. checkAddresses makes sure no two
// services are given the same address on one remote, and that no declared
// address lies in a pool, where it could be handed to another service.
func (c *Config) checkAddresses(errs *Errors) {
	pools := map[string]netip.Prefix{}
	names := make([]string, 0, len(c.LXDRemotes))
	for name := range c.LXDRemotes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		pool := c.LXDRemotes[name].AddressPool
		if pool == "" {
			continue
		}
		p, err := netip.ParsePrefix(pool)
		switch {
		case err != nil:
			errs.add("lxd_remotes."+name+".address_pool", "%q is not a prefix: give the VM's service addresses as address/bits, e.g. 127.0.1.0/24", pool)
		case p != p.Masked():
			errs.add("lxd_remotes."+name+".address_pool", "%q has host bits set: did you mean %s?", pool, p.Masked())
		case p.Addr().Is4() && p.Bits() > 30 || p.Addr().Is6() && p.Bits() > 126:
			errs.add("lxd_remotes."+name+".address_pool", "%q holds too few addresses for a pool: give a shorter prefix", pool)
		default:
			pools[name] = p
		}
	}
	type owner struct{ service, path string }
	taken := map[string]owner{} // remote/address
	for i, s := range c.Services {
		for _, d := range declaredAddresses(fmt.Sprintf("services[%d]", i), s) {
			addr, err := netip.ParseAddr(d.address)
			if err != nil {
				errs.add(d.path, "%q is not an IP address", d.address)
				continue
			}
			if p, ok := pools[d.remote]; ok && p.Contains(addr) {
				errs.add(d.path, "%s lies in lxd_remotes.%s.address_pool %s, which may hand it to another service: take one outside the pool, or leave it out to get one from the pool", addr, d.remote, p)
			}
			key := d.remote + "/" + addr.String()
			if o, dup := taken[key]; dup && o.service != s.Name {
				errs.add(d.path, "%s on remote %q is already %s's (%s): give each service its own address", addr, d.remote, o.service, o.path)
				continue
			}
			taken[key] = owner{s.Name, d.path}
		}
	}
}

type declaredAddress struct {
	remote, address, path string
}

// declaredAddresses are the addresses a service's strategy settings give it
// on named remotes.
func declaredAddresses(path string, s Service) []declaredAddress {
	var out []declaredAddress
	for at, st := range map[string]*Strategy{path + ".strategy": &s.Strategy, path + ".scaleup": s.ScaleUp} {
		if st == nil {
			continue
		}
		for _, k := range []struct{ remote, alias, address string }{{"remote", "", "address"}, {"target", "to", "target_address"}} {
			v, ok := st.Settings[k.address]
			if !ok || v == nil {
				continue
			}
			remote, _ := st.Settings[k.remote].(string)
			if alias, _ := st.Settings[k.alias].(string); remote == "" && k.alias != "" {
				remote = alias
			}
			out = append(out, declaredAddress{remote: remote, address: fmt.Sprint(v), path: at + ".settings." + k.address})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}
