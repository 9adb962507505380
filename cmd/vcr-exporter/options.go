package main

import (
	"fmt"
	"strings"

	"github.com/vcrcovery/vcrcovery/exporter/fastpath"
	"github.com/vcrcovery/vcrcovery/exporter/snmptrap"
)

// fastPathOptions turns the --alertmanager.* flags into the fast path's
// options, nil when no --alertmanager.url turns it on. The HTTP client
// configuration is read and checked here, so a bad one fails start-up.
func fastPathOptions(c *config) (*fastpath.Options, error) {
	if len(c.amURLs) == 0 {
		return nil, nil
	}
	o := &fastpath.Options{URLs: c.amURLs, Attempts: c.amAttempts, QueueSize: c.amQueue,
		ResendInterval: c.amResend, Timeout: c.amTimeout}
	var err error
	if o.StandbyDomains, err = fastpath.StandbyDomains(c.amStandbyRegex); err != nil {
		return nil, err
	}
	if c.amHTTPConfig != "" {
		if o.Client, err = fastpath.NewHTTPClient(c.amHTTPConfig); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// snmpOptions turns the --snmp.* flags into the trap receiver's options,
// nil when no --snmp.trap-address turns it on.
func snmpOptions(c *config) (*snmptrap.Options, error) {
	if c.snmpAddr == "" {
		return nil, nil
	}
	hosts := map[string]string{}
	for _, m := range c.snmpHosts {
		ip, h, ok := strings.Cut(m, "=")
		if !ok || ip == "" || h == "" {
			return nil, fmt.Errorf("--snmp.host %q: want IP=HOST", m)
		}
		hosts[ip] = h
	}
	allow, err := snmptrap.ParseAllow(c.snmpAllow)
	if err != nil {
		return nil, err
	}
	return &snmptrap.Options{Address: c.snmpAddr, Community: c.snmpCommunity, Allow: allow,
		AllowUnauthenticated: c.snmpAllowUnauthenticated, Hosts: hosts}, nil
}
