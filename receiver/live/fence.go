package live

import (
	"context"
	"fmt"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/internal/virt"
	"github.com/vcrcovery/vcrcovery/receiver/config"
	"github.com/vcrcovery/vcrcovery/receiver/pipeline"
)

// Fencer destroys primary domains through go-libvirt.
type Fencer struct{}

// Fence implements pipeline.Fencer. A domain that is already shut off, or
// not defined on the host, counts as fenced: it cannot be serving there.
func (Fencer) Fence(ctx context.Context, host config.Host, domain, uuid string) (string, error) {
	l, err := virt.Dial(ctx, host.Socket, host.URI, host.Timeout)
	if err != nil {
		return "", fmt.Errorf("%w: %v", pipeline.ErrHostUnreachable, err)
	}
	defer func() { go l.Disconnect() }() // never let a stuck close hold the pipeline

	var dom libvirt.Domain
	if uuid != "" {
		u, perr := virt.ParseUUID(uuid)
		if perr != nil {
			return "", perr
		}
		dom, err = virt.Call(ctx, func() (libvirt.Domain, error) { return l.DomainLookupByUUID(u) })
	} else {
		dom, err = virt.Call(ctx, func() (libvirt.Domain, error) { return l.DomainLookupByName(domain) })
	}
	if virt.IsNotFound(err) {
		return "not defined on the host, so not running there", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up domain: %w", err)
	}
	state, err := domainState(ctx, l, dom)
	if err != nil {
		return "", fmt.Errorf("read domain state: %w", err)
	}
	if state == int32(libvirt.DomainShutoff) {
		return "already shut off", nil
	}
	if _, err := virt.Call(ctx, func() (struct{}, error) { return struct{}{}, l.DomainDestroy(dom) }); err != nil {
		// Destroy fails on a domain that stopped in the meantime: check.
		if now, serr := domainState(ctx, l, dom); serr == nil && now == int32(libvirt.DomainShutoff) {
			return "already shut off", nil
		}
		return "", fmt.Errorf("destroy domain: %w; check the libvirt user's permissions", err)
	}
	return "destroyed (was " + virt.StateName(state) + ")", nil
}

func domainState(ctx context.Context, l *libvirt.Libvirt, dom libvirt.Domain) (int32, error) {
	return virt.Call(ctx, func() (int32, error) {
		s, _, err := l.DomainGetState(dom, 0)
		return s, err
	})
}
