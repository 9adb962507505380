package exporter

import (
	"context"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/internal/virt"
)

// Client is the part of go-libvirt the exporter uses; *libvirt.Libvirt
// implements it, and unit tests substitute a fake.
type Client interface {
	ConnectGetAllDomainStats(doms []libvirt.Domain, stats uint32, flags uint32) ([]libvirt.DomainStatsRecord, error)
	LifecycleEvents(ctx context.Context) (<-chan libvirt.DomainEventLifecycleMsg, error)
	Disconnected() <-chan struct{}
	Disconnect() error
}

// Dialer opens a new Client; the supervisor calls it again after every loss.
type Dialer func(ctx context.Context) (Client, error)

// LibvirtDialer dials libvirtd at socket and opens uri with internal/virt.
func LibvirtDialer(socket, uri string, timeout time.Duration) Dialer {
	return func(ctx context.Context) (Client, error) {
		l, err := virt.Dial(ctx, socket, uri, timeout)
		if err != nil {
			return nil, err
		}
		return l, nil
	}
}
