package lxd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// StartInstanceAsync asks LXD to start an instance and returns the start
// operation without waiting for it.
func (c *Client) StartInstanceAsync(ctx context.Context, name string) (*Operation, error) {
	op, err := c.async(ctx, request{method: http.MethodPut, path: instancePath(name) + "/state", body: statePut{Action: "start"}})
	if err != nil {
		return nil, fmt.Errorf("start instance %q: %w", name, err)
	}
	return op, nil
}

// StartInstanceReady starts an instance and returns as soon as ready
// succeeds, or when the start operation fails, whichever comes first.
//
// Why: LXD 5.0 finishes a start operation only after it has polled each
// proxy device's helper process, and that poll sleeps a whole second. The
// service behind the proxy answers about 0.2 s after the start request, a
// second before StartInstance returns. Recovery cares about the port, so
// this is the call that cold restores and moves want.
//
// ready is called every interval (10 ms if zero) until it returns nil; see
// TCPProbe and HTTPProbe. If the start operation completes successfully
// first, ready still has to succeed, so a started instance whose service
// never comes up ends with ctx's error, not a false success.
func (c *Client) StartInstanceReady(ctx context.Context, name string, ready func(context.Context) error, interval time.Duration) error {
	if ready == nil {
		return errors.New("start instance: StartInstanceReady needs a ready probe; use StartInstance otherwise")
	}
	if interval <= 0 {
		interval = 10 * time.Millisecond
	}
	op, err := c.StartInstanceAsync(ctx, name)
	if err != nil {
		return err
	}
	opErr := make(chan error, 1)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { opErr <- op.Wait(wctx, 0) }()

	tick := time.NewTicker(interval)
	defer tick.Stop()
	var lastProbe error
	for {
		pctx, pcancel := context.WithTimeout(ctx, max(interval*20, time.Second))
		lastProbe = ready(pctx)
		pcancel()
		if lastProbe == nil {
			return nil
		}
		select {
		case err := <-opErr:
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("start instance %q: %w (last probe: %v)", name, ctx.Err(), lastProbe)
				}
				return fmt.Errorf("start instance %q: %w", name, err)
			}
			opErr = nil // started; keep probing until ready or ctx ends
		case <-ctx.Done():
			return fmt.Errorf("start instance %q: service not ready: %w (last probe: %v)", name, ctx.Err(), lastProbe)
		case <-tick.C:
		}
	}
}

// TCPProbe returns a ready probe that connects to addr, an LXD proxy address
// ("tcp:127.0.0.2:8080") or a plain host:port. Note that a proxy device
// accepts connections as soon as it listens, before the service inside
// answers; HTTPProbe checks the service itself.
func TCPProbe(addr string) func(context.Context) error {
	network, hostport, err := ProxyAddress(addr)
	if err != nil {
		network, hostport = "tcp", addr
	}
	return func(ctx context.Context) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, hostport)
		if err != nil {
			return err
		}
		return conn.Close()
	}
}

// HTTPProbe returns a ready probe that GETs url and wants a status below 500.
func HTTPProbe(url string) func(context.Context) error {
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}
