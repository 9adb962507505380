package e2e

import (
	"net"
	"path/filepath"
	"sync"
	"testing"
)

// freezingProxy forwards a unix socket to target and can hold every byte in both directions
// (Freeze) until Thaw: in front of libvirtd, the exporter sees a daemon that accepted its
// connection and its calls and never answers, without stopping the machine's libvirtd, which
// other test processes share.
type freezingProxy struct {
	ln     net.Listener
	path   string
	target string

	mu     sync.Mutex
	frozen bool
	thawed *sync.Cond
	conns  []net.Conn
	closed bool
}

func newFreezingProxy(t testing.TB, target string) *freezingProxy {
	t.Helper()
	path := filepath.Join(t.TempDir(), "libvirt-sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &freezingProxy{ln: ln, path: path, target: target}
	p.thawed = sync.NewCond(&p.mu)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Path is the socket to give the exporter as --libvirt.socket.
func (p *freezingProxy) Path() string { return p.path }

// Freeze holds every byte from now on, in both directions.
func (p *freezingProxy) Freeze() {
	p.mu.Lock()
	p.frozen = true
	p.mu.Unlock()
}

// Thaw lets the held bytes, and every later one, through.
func (p *freezingProxy) Thaw() {
	p.mu.Lock()
	p.frozen = false
	p.thawed.Broadcast()
	p.mu.Unlock()
}

func (p *freezingProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("unix", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies src to dst, waiting before each write while frozen.
func (p *freezingProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.frozen && !p.closed {
				p.thawed.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *freezingProxy) close() {
	p.mu.Lock()
	p.closed = true
	p.frozen = false
	p.thawed.Broadcast()
	conns := p.conns
	p.mu.Unlock()
	p.ln.Close()
	for _, c := range conns {
		c.Close()
	}
}
