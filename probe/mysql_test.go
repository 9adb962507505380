package probe

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMySQLCheckRefusedAndInvalid(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	err = Once(context.Background(), Check{Address: "127.0.0.1", Port: port, MySQL: &MySQL{User: "u"}})
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "connection refused on 127.0.0.1:") {
		t.Errorf("closed port: err = %v", err)
	}
	err = Once(context.Background(), Check{Address: "127.0.0.1", Port: port, HTTPPath: "/", MySQL: &MySQL{User: "u"}})
	if err == nil || !strings.Contains(err.Error(), "one or the other") {
		t.Errorf("HTTP and MySQL together: err = %v", err)
	}
}

// A listener that accepts and says nothing is not a database that answers.
func TestMySQLCheckSilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	a := l.Addr().(*net.TCPAddr)
	err = Once(context.Background(), Check{Address: "127.0.0.1", Port: a.Port, AttemptTimeout: 300 * time.Millisecond, MySQL: &MySQL{User: "u"}})
	if err == nil {
		t.Fatal("a silent server passed the MySQL check")
	}
}
