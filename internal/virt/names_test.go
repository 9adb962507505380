package virt

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

func TestNames(t *testing.T) {
	cases := []struct {
		got, want string
	}{
		{StateName(StateRunning), "running"},
		{StateName(StateShutoff), "shutoff"},
		{StateName(StatePMSuspended), "pmsuspended"},
		{StateName(42), "unknown_42"},
		{EventName(5), "stopped"},
		{EventName(8), "crashed"},
		{EventName(-1), "unknown_-1"},
		{DetailName(5, 1), "destroyed"},
		{DetailName(5, 2), "crashed"},
		{DetailName(3, 2), "ioerror"},
		{DetailName(8, 0), "panicked"},
		{DetailName(5, 99), "unknown_99"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestStateAfterEvent(t *testing.T) {
	for _, c := range []struct {
		event, detail, state int32
		ok                   bool
	}{
		{2, 0, StateRunning, true},
		{3, 0, StatePaused, true},
		{4, 0, StateRunning, true},
		{5, 1, StateShutoff, true},
		{8, 0, StateCrashed, true},
		{0, 0, 0, false},
		{6, 0, 0, false},
	} {
		s, ok := StateAfterEvent(c.event, c.detail)
		if s != c.state || ok != c.ok {
			t.Errorf("StateAfterEvent(%d,%d) = %d,%v; want %d,%v", c.event, c.detail, s, ok, c.state, c.ok)
		}
	}
}

func TestUUIDRoundTrip(t *testing.T) {
	const s = "6695eb01-f6a4-8304-79aa-97f2502e193f"
	u, err := ParseUUID(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := FormatUUID(u); got != s {
		t.Fatalf("FormatUUID = %s, want %s", got, s)
	}
	if _, err := ParseUUID("nope"); err == nil {
		t.Fatal("ParseUUID accepted garbage")
	}
}

func TestParseSocket(t *testing.T) {
	for _, c := range []struct{ in, network, addr string }{
		{"", "unix", DefaultSocket},
		{"/tmp/x.sock", "unix", "/tmp/x.sock"},
		{"unix:///tmp/y", "unix", "/tmp/y"},
		{"tcp://127.0.0.1:16509", "tcp", "127.0.0.1:16509"},
	} {
		n, a, err := parseSocket(c.in)
		if err != nil || n != c.network || a != c.addr {
			t.Errorf("parseSocket(%q) = %s %s %v", c.in, n, a, err)
		}
	}
	for _, bad := range []string{"tcp://nohost", "ssh://x"} {
		if _, _, err := parseSocket(bad); err == nil {
			t.Errorf("parseSocket(%q) accepted", bad)
		}
	}
}

func TestDialMissingSocket(t *testing.T) {
	_, err := Dial(context.Background(), t.TempDir()+"/none.sock", "test:///default", time.Second)
	if err == nil {
		t.Fatal("Dial to a missing socket succeeded")
	}
}

func TestCallTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	block := make(chan struct{})
	defer close(block)
	_, err := Call(ctx, func() (int, error) { <-block; return 1, nil })
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	v, err := Call(context.Background(), func() (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Fatalf("Call = %d, %v", v, err)
	}
}

// A libvirtd that accepts but never answers must not hang Dial.
func TestDialHungDaemon(t *testing.T) {
	path := t.TempDir() + "/hung.sock"
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	_, err = Dial(context.Background(), path, "test:///default", 300*time.Millisecond)
	if err == nil {
		t.Fatal("Dial to a silent daemon succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Dial took %v despite a 300ms timeout", d)
	}
}
