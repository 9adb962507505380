package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/internal/virt"
)

// TestDriver is libvirt's test driver (test:///default) reached through the
// daemon. The driver's state (a predefined running domain "test" plus whatever
// is defined) lives only while a connection is open, and it is shared by every
// process connected to it, so domain names are made unique.
type TestDriver struct {
	URI      string // "test:///default": for go-libvirt and --libvirt.uri with --libvirt.socket
	VirshURI string // "test+unix:///default": for virsh -c

	env  *LibvirtEnv
	conn *libvirt.Libvirt
}

// TestDriver opens a connection to test:///default that stays open until the
// test ends, so that the domains it defines persist for the test's life.
func (l *LibvirtEnv) TestDriver(t TB) *TestDriver {
	t.Helper()
	return &TestDriver{URI: "test:///default", VirshURI: "test+unix:///default", env: l, conn: l.Connect(t, "test:///default")}
}

// Conn is the driver connection held open for the test.
func (d *TestDriver) Conn() *libvirt.Libvirt { return d.conn }

// UniqueName returns prefix plus the test name and a random suffix, so concurrent
// tests (and processes) sharing the test driver never collide.
func UniqueName(t TB, prefix string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s%s-%s", prefix, safeName(t.Name(), 24), hex.EncodeToString(b[:]))
}

// Define defines and starts a test-driver domain named name (a unique name is
// generated when name is ""), undefines it at cleanup, and returns its UUID.
func (d *TestDriver) Define(t TB, name string) (uuid string) {
	uuid, _ = d.DefineNamed(t, name)
	return uuid
}

// DefineNamed is Define that also returns the name used.
func (d *TestDriver) DefineNamed(t TB, name string) (uuid, actual string) {
	t.Helper()
	if name == "" {
		name = UniqueName(t, "vcr-")
	}
	xml := fmt.Sprintf(`<domain type='test'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>`, name)
	dom, err := d.conn.DomainDefineXML(xml)
	if err != nil {
		t.Fatalf("testenv: define test domain %s: %v", name, err)
	}
	t.Cleanup(func() {
		// The domain may already be gone (the test undefined it); ignore errors.
		if dm, err := d.conn.DomainLookupByName(name); err == nil {
			_ = d.conn.DomainDestroy(dm)
			_ = d.conn.DomainUndefine(dm)
		}
	})
	if err := d.conn.DomainCreate(dom); err != nil {
		t.Fatalf("testenv: start test domain %s: %v", name, err)
	}
	return virt.FormatUUID(dom.UUID), name
}

func (d *TestDriver) lookup(t TB, name string) libvirt.Domain {
	t.Helper()
	dom, err := d.conn.DomainLookupByName(name)
	if err != nil {
		t.Fatalf("testenv: look up test domain %s: %v", name, err)
	}
	return dom
}

// Destroy stops the domain hard (lifecycle event Stopped/Destroyed).
func (d *TestDriver) Destroy(t TB, name string) {
	t.Helper()
	if err := d.conn.DomainDestroy(d.lookup(t, name)); err != nil {
		t.Fatalf("testenv: destroy test domain %s: %v", name, err)
	}
}

// Start starts a defined, shut-off domain.
func (d *TestDriver) Start(t TB, name string) {
	t.Helper()
	if err := d.conn.DomainCreate(d.lookup(t, name)); err != nil {
		t.Fatalf("testenv: start test domain %s: %v", name, err)
	}
}

// Suspend pauses the domain.
func (d *TestDriver) Suspend(t TB, name string) {
	t.Helper()
	if err := d.conn.DomainSuspend(d.lookup(t, name)); err != nil {
		t.Fatalf("testenv: suspend test domain %s: %v", name, err)
	}
}

// Resume resumes a paused domain.
func (d *TestDriver) Resume(t TB, name string) {
	t.Helper()
	if err := d.conn.DomainResume(d.lookup(t, name)); err != nil {
		t.Fatalf("testenv: resume test domain %s: %v", name, err)
	}
}

// Undefine removes a shut-off domain's definition.
func (d *TestDriver) Undefine(t TB, name string) {
	t.Helper()
	if err := d.conn.DomainUndefine(d.lookup(t, name)); err != nil {
		t.Fatalf("testenv: undefine test domain %s: %v", name, err)
	}
}

// State returns the libvirt state code of the domain (1 running, 3 paused, 5 shutoff...).
func (d *TestDriver) State(t TB, name string) int {
	t.Helper()
	st, _, err := d.conn.DomainGetState(d.lookup(t, name), 0)
	if err != nil {
		t.Fatalf("testenv: state of test domain %s: %v", name, err)
	}
	return int(st)
}
