package system

// Actions on the running system, the way its users would meet them: a
// primary crashes or comes back, a client resolves the service's name and
// fetches its page, an operator opens the status page.

import (
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// FailPrimary kills a service's primary the way a crash would: the domain is
// destroyed in libvirt and its service stops answering. It returns the moment
// of the destroy.
func (s *System) FailPrimary(t testenv.TB, name string) time.Time {
	t.Helper()
	svc := s.Service(t, name)
	svc.StopListener()
	at := time.Now()
	if svc.vm != nil {
		s.Libvirt.Virsh(t, "qemu:///system", "destroy", svc.Domain)
	} else {
		s.Driver.Destroy(t, svc.Domain)
	}
	return at
}

// RestorePrimary starts the primary again (for failback and flapping) and
// waits until it serves.
func (s *System) RestorePrimary(t testenv.TB, name string) {
	t.Helper()
	svc := s.Service(t, name)
	if svc.vm != nil {
		s.BootPrimary(t, name)
		s.WaitPrimary(t, name)
		return
	}
	s.Driver.Start(t, svc.Domain)
	svc.startListener(t)
}

// RefuseDNSUpdates makes named refuse the DNS switches of a service with
// its own DNS key (ServiceSpec.OwnDNSKey), as a wrong TSIG secret would:
// the receiver reads the secret file at every switch, so the next UPDATE
// is signed with a key named does not know and answered NOTAUTH (BADSIG).
func (s *System) RefuseDNSUpdates(t testenv.TB, name string) {
	t.Helper()
	s.writeDNSSecret(t, name, base64.StdEncoding.EncodeToString([]byte("a-key-named-was-never-told-about")))
}

// AcceptDNSUpdates gives a service with its own DNS key named's key again.
func (s *System) AcceptDNSUpdates(t testenv.TB, name string) {
	t.Helper()
	s.writeDNSSecret(t, name, s.Named.KeySecret)
}

func (s *System) writeDNSSecret(t testenv.TB, name, secret string) {
	t.Helper()
	if !s.Service(t, name).OwnDNSKey {
		t.Fatalf("system: service %s switches with the shared DNS key: set OwnDNSKey in its ServiceSpec", name)
	}
	if err := os.WriteFile(s.dnsSecretFile(name), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatalf("system: %v", err)
	}
}

// BootPrimary starts a VM primary again without waiting for it, so a test
// can do other work while it boots; WaitPrimary waits until it serves.
func (s *System) BootPrimary(t testenv.TB, name string) {
	t.Helper()
	s.Libvirt.Virsh(t, "qemu:///system", "start", s.Service(t, name).Domain)
}

// WaitPrimary waits until a VM primary started with BootPrimary serves (a
// Real database: accepts a login too).
func (s *System) WaitPrimary(t testenv.TB, name string) {
	t.Helper()
	svc := s.Service(t, name)
	testenv.WaitHTTP(t, "http://"+svc.vm.ListenAddr+"/", 4*time.Minute, nil)
	if svc.real != nil {
		waitMySQL(t, svc.real.vm.MySQLAddr(), 2*time.Minute)
	}
}

// Resolve returns the service name's A records from the authoritative server.
func (s *System) Resolve(t testenv.TB, name string) []string {
	t.Helper()
	return s.Named.Lookup(t, s.Service(t, name).DNSName)
}

// Get resolves the service's name and fetches its page through it, the way a
// client of the service would.
func (s *System) Get(t testenv.TB, name string) (string, error) {
	t.Helper()
	addrs := s.Resolve(t, name)
	if len(addrs) != 1 {
		return "", fmt.Errorf("%s resolves to %v, want one address", name, addrs)
	}
	return httpGet("http://" + net.JoinHostPort(addrs[0], fmt.Sprint(s.Service(t, name).Port)) + "/")
}

// httpGet fetches url as a client of the service would, with a short
// timeout; anything but 200 is an error.
func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return string(b), fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), nil
}

// StatusPageURL is the receiver's status page with the operator's
// credentials in it, for a browser.
func (s *System) StatusPageURL() string {
	return strings.Replace(s.ReceiverURL, "http://", "http://"+OperatorUser+":"+OperatorPassword+"@", 1) + "/"
}
