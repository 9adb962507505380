package e2e

import (
	"io"
	"net"
	"sync"
	"testing"
)

// alertingProxy forwards TCP from a loopback port to target. Prometheus scrapes an exporter
// through it, so that Cut makes the exporter unreachable for Prometheus while the exporter itself
// keeps running and pushing fast-path alerts to Alertmanager: a network partition between the
// central site and a host.
type alertingProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []net.Conn
	cut   bool
}

func newAlertingProxy(t testing.TB, target string) *alertingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &alertingProxy{ln: ln, target: target}
	go p.accept()
	t.Cleanup(p.Cut)
	return p
}

// Addr is the address to scrape instead of the target.
func (p *alertingProxy) Addr() string { return p.ln.Addr().String() }

func (p *alertingProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			up.Close()
			return
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

// Cut closes the listener and every open connection: scrapes fail from now on.
func (p *alertingProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return
	}
	p.cut = true
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
}
