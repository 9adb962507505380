package system

// A counting DNS wrapper: a UDP and TCP forwarder in front of named that
// counts the UPDATE messages per name, so a test can prove every service's
// record was switched exactly once. It forwards the bytes as they came:
// re-packing a message would change the bytes its TSIG signature covers.

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// DNSCounter forwards DNS messages to a server and counts UPDATEs.
type DNSCounter struct {
	Addr string // 127.0.0.1:<port>, UDP and TCP

	upstream string
	mu       sync.Mutex
	updates  map[string]int // owner name of the update records -> UPDATE messages
}

// StartDNSCounter forwards to upstream until t's cleanup.
func StartDNSCounter(t testenv.TB, upstream string) *DNSCounter {
	t.Helper()
	c := &DNSCounter{upstream: upstream, updates: map[string]int{}}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("system: DNS counter: %v", err)
	}
	c.Addr = pc.LocalAddr().String()
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		pc.Close()
		t.Fatalf("system: DNS counter: %v", err)
	}
	t.Cleanup(func() {
		pc.Close()
		ln.Close()
	})
	go c.serveUDP(pc)
	go c.serveTCP(ln)
	return c
}

// serveUDP forwards each datagram on a socket of its own and relays the
// answer.
func (c *DNSCounter) serveUDP(pc net.PacketConn) {
	buf := make([]byte, 65535)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		pkt := append([]byte(nil), buf[:n]...)
		c.count(pkt)
		go func() {
			up, err := net.Dial("udp", c.upstream)
			if err != nil {
				return
			}
			defer up.Close()
			if _, err := up.Write(pkt); err != nil {
				return
			}
			up.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp := make([]byte, 65535)
			if m, err := up.Read(resp); err == nil {
				pc.WriteTo(resp[:m], from)
			}
		}()
	}
}

// serveTCP relays each connection, counting the messages sent upstream.
func (c *DNSCounter) serveTCP(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			up, err := net.Dial("tcp", c.upstream)
			if err != nil {
				return
			}
			defer up.Close()
			go io.Copy(conn, up)
			var size [2]byte
			for {
				if _, err := io.ReadFull(conn, size[:]); err != nil {
					return
				}
				msg := make([]byte, binary.BigEndian.Uint16(size[:]))
				if _, err := io.ReadFull(conn, msg); err != nil {
					return
				}
				c.count(msg)
				if _, err := up.Write(append(size[:], msg...)); err != nil {
					return
				}
			}
		}()
	}
}

func (c *DNSCounter) count(wire []byte) {
	var m dns.Msg
	if m.Unpack(wire) != nil || m.Opcode != dns.OpcodeUpdate {
		return
	}
	names := map[string]bool{}
	for _, rr := range m.Ns {
		names[rr.Header().Name] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for n := range names {
		c.updates[n]++
	}
}

// Updates returns the UPDATE messages seen per name (fully qualified).
func (c *DNSCounter) Updates() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.updates))
	for k, v := range c.updates {
		out[k] = v
	}
	return out
}
