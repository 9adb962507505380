// Package virt connects to libvirtd through go-libvirt and names libvirt's
// numeric domain states and lifecycle events, so that the exporter, the
// receiver's fencing and the tests speak about domains the same way.
package virt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
)

// DefaultSocket is where a system libvirtd listens on Debian.
const DefaultSocket = "/run/libvirt/libvirt-sock"

// DefaultURI is the driver URI used when none is given.
const DefaultURI = "qemu:///system"

// Dial connects to libvirtd and opens the driver named by uri (for example
// "qemu:///system" or "test:///default").
//
// socket is either a unix socket path (empty means DefaultSocket) or
// "tcp://host:port" for a remote libvirtd listening without TLS
// (listen_tcp=1, auth_tcp="none"). The whole handshake, dial included, is
// bounded by timeout and by ctx: go-libvirt's RPCs take no context, so a
// libvirtd that accepts the connection but never answers would otherwise
// hang the caller forever.
func Dial(ctx context.Context, socket, uri string, timeout time.Duration) (*libvirt.Libvirt, error) {
	if uri == "" {
		uri = DefaultURI
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	network, address, err := parseSocket(socket)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	d := &dialer{ctx: ctx, network: network, address: address}
	l := libvirt.NewWithDialer(d)

	// go-libvirt's handshake takes no context. Run it aside and, if the
	// deadline passes first, close the connection: that fails the pending
	// RPC instead of leaving it (and us) waiting on a silent daemon.
	done := make(chan error, 1)
	go func() { done <- l.ConnectToURI(libvirt.ConnectURI(uri)) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		if c := d.conn(); c != nil {
			_ = c.Close()
		}
		<-done
		err = ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("connect to libvirt %s at %s %s: %w; check that libvirtd is running and the URI names an available driver",
			uri, network, address, err)
	}
	return l, nil
}

func parseSocket(socket string) (network, address string, err error) {
	switch {
	case socket == "":
		return "unix", DefaultSocket, nil
	case strings.HasPrefix(socket, "tcp://"):
		hostport := strings.TrimPrefix(socket, "tcp://")
		if _, _, err := net.SplitHostPort(hostport); err != nil {
			return "", "", fmt.Errorf("libvirt socket %q: want tcp://host:port: %w", socket, err)
		}
		return "tcp", hostport, nil
	case strings.HasPrefix(socket, "unix://"):
		return "unix", strings.TrimPrefix(socket, "unix://"), nil
	case strings.Contains(socket, "://"):
		return "", "", fmt.Errorf("libvirt socket %q: only a unix socket path or tcp://host:port is supported", socket)
	default:
		return "unix", socket, nil
	}
}

// dialer implements go-libvirt's socket.Dialer with a context and remembers
// the connection so Dial can clear its handshake deadline.
type dialer struct {
	ctx     context.Context
	network string
	address string

	mu sync.Mutex
	c  net.Conn
}

func (d *dialer) Dial() (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(d.ctx, d.network, d.address)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.c = c
	d.mu.Unlock()
	return c, nil
}

func (d *dialer) conn() net.Conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.c
}

// IsNotFound reports whether err is libvirt's "no domain with matching
// name/uuid" error, which fencing treats as "already gone".
func IsNotFound(err error) bool {
	return libvirt.IsNotFound(err)
}

// ErrTimeout is returned by Call when the deadline passes first.
var ErrTimeout = errors.New("libvirt call timed out")

// Call runs fn, an RPC without context support, and gives up when ctx ends.
// fn keeps running in the background after a timeout; callers that must not
// pile up stuck calls should serialise them.
func Call[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("%w: %v", ErrTimeout, ctx.Err())
	}
}
