package system

// The stand-in service of a test-driver primary: a test-driver domain runs
// nothing, so an HTTP listener on the primary's address plays its service.
// Start starts it, FailPrimary stops it with the domain, RestorePrimary
// starts it again.

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// startListener serves the primary's page on its address, standing in for the
// service inside a test-driver domain.
func (svc *Service) startListener(t testenv.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(svc.PrimaryAddr, fmt.Sprint(svc.Port)))
	if err != nil {
		t.Fatalf("system: primary listener for %s: %v", svc.Name, err)
	}
	body := "primary " + svc.Name + "\n"
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, body)
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	svc.mu.Lock()
	svc.listener = srv
	svc.mu.Unlock()
	t.Cleanup(func() { svc.StopListener() })
}

// StopListener stops the stand-in primary service (the VM's service dying with it).
func (svc *Service) StopListener() {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if svc.listener != nil {
		svc.listener.Close()
		svc.listener = nil
	}
}
