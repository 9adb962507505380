package cold

import (
	"context"
	"fmt"
	"maps"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/plugins/internal/strategy"
)

// Readdress points inst's proxy device at addr, keeping its port, so a
// container restored (or moved) onto another "VM" listens on that VM's
// address. It does nothing when the device already listens there.
func Readdress(ctx context.Context, c *lxd.Client, inst *lxd.Instance, device, addr string) error {
	dev, ok := inst.Devices[device]
	if !ok {
		// A profile's proxy cannot be edited per instance; an instance
		// device of the same name overrides it.
		dev, ok = inst.ExpandedDevices[device]
	}
	if !ok || dev["type"] != "proxy" {
		return fmt.Errorf("instance %q has no proxy device %q: add one (listen=tcp:<addr>:<port> connect=tcp:127.0.0.1:<port>) before backing it up", inst.Name, device)
	}
	listen, err := strategy.RewriteListen(dev["listen"], addr)
	if err != nil {
		return fmt.Errorf("instance %q device %q: %w", inst.Name, device, err)
	}
	if listen == dev["listen"] {
		return nil
	}
	nd := maps.Clone(dev)
	nd["listen"] = listen
	if err := c.SetDevice(ctx, inst.Name, device, nd); err != nil {
		return fmt.Errorf("re-address instance %q to %s: %w", inst.Name, addr, err)
	}
	return nil
}
