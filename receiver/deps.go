package receiver

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/vcrcovery/vcrcovery/plugins/sdk"
	"github.com/vcrcovery/vcrcovery/receiver/config"
)

// The pipeline talks to the outside world only through these small
// interfaces, so unit tests drive it with fakes and cmd/vcr-receiver wires
// in libvirt, the plugin manager, probe and dnsupdate.

// Fencer makes sure a primary domain is not running.
type Fencer interface {
	// Fence destroys the domain (by UUID if set, else by name) on host and
	// says what happened in plain words ("destroyed", "already shut off",
	// "not defined on the host"). It returns an error wrapping
	// ErrHostUnreachable when the host's libvirtd cannot be reached.
	Fence(ctx context.Context, host config.Host, domain, uuid string) (string, error)
}

// ErrHostUnreachable marks fencing failures where the host did not answer at
// all; the pipeline then waits out the grace period instead of retrying.
var ErrHostUnreachable = errors.New("libvirt host unreachable")

// Strategies runs strategy plugins by name (plugins/manager).
type Strategies interface {
	Prepare(ctx context.Context, name string, req sdk.PrepareRequest, progress sdk.ProgressFunc) (sdk.Endpoint, error)
	Finalize(ctx context.Context, name string, req sdk.FinalizeRequest) error
	ValidateConfig(ctx context.Context, name string, req sdk.ValidateRequest) error
}

// Check is one readiness check of an endpoint.
type Check struct {
	Address      string
	Port         int
	HTTPPath     string
	ExpectStatus int
}

// Prober checks endpoints (package probe).
type Prober interface {
	// Once tries once: nil means the endpoint answers.
	Once(ctx context.Context, c Check) error
	// Wait retries until the endpoint answers or ctx ends.
	Wait(ctx context.Context, c Check) error
}

// DNS switches and reads a service's RRset (package dnsupdate).
type DNS interface {
	// Replace replaces the A/AAAA RRset of name with addrs in one UPDATE and
	// verifies it by querying the server.
	Replace(ctx context.Context, server config.DNSServer, zone, name string, ttl uint32, addrs []netip.Addr) error
	// Lookup returns the addresses the server holds for name.
	Lookup(ctx context.Context, server config.DNSServer, zone, name string) ([]netip.Addr, error)
}

// Clock lets tests run backoff and grace periods without waiting.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
