package system

// What an operator does to the running system: planned work on a primary,
// and vcrctl against the receiver, as a person at a terminal would run it.

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// ShutdownPrimary stops a service's primary the way planned work does: a
// clean `virsh shutdown`, its service stopping with it. libvirt reports
// the domain stopped with reason "shutdown", which the detection treats as
// a failure unless a maintenance window holds it. It returns the moment of
// the shutdown.
func (s *System) ShutdownPrimary(t testenv.TB, name string) time.Time {
	t.Helper()
	svc := s.Service(t, name)
	svc.StopListener()
	at := time.Now()
	uri := s.Driver.VirshURI
	if svc.vm != nil {
		uri = "qemu:///system"
	}
	s.Libvirt.Virsh(t, uri, "shutdown", svc.Domain)
	return at
}

// Vcrctl runs the vcrctl binary against this system's receiver with the
// receiver's token, answer on its stdin, and returns its combined output
// and exit code.
func (s *System) Vcrctl(t testenv.TB, answer string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(testenv.Binary(t, "vcrctl"), append([]string{"--receiver.url", s.ReceiverURL}, args...)...)
	cmd.Env = append(os.Environ(), "VCR_TOKEN="+s.ReceiverToken, "VCR_ALERTMANAGER_URL="+s.AM.URL)
	cmd.Stdin = strings.NewReader(answer)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("system: run vcrctl %v: %v\n%s", args, err, out)
	return "", -1
}
