package testenv

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/digitalocean/go-libvirt"

	"github.com/vcrcovery/vcrcovery/internal/virt"
)

// VMOptions configures StartVM.
type VMOptions struct {
	Name        string        // domain name; default: unique, from the test name
	ListenAddr  string        // host side of the port forward to the guest's :80, e.g. "127.0.0.5:8081"; default 127.0.0.5:<free port>
	Body        string        // the page served; default "vm <Name>\n"
	MemoryMiB   int           // default 256
	BootTimeout time.Duration // until HTTP answers; default 120 s (TCG boots in 8-30 s)
	// Devices is extra XML inside <devices> (disks, interfaces, a
	// <memballoon>, which then replaces the default model='none').
	Devices string
	// Metadata is XML inside the domain's <metadata> element.
	Metadata string
}

// VM is a running QEMU (TCG) domain defined in qemu:///system.
type VM struct {
	Name, UUID, ListenAddr string
	Console                string // file receiving the guest's serial console
	Body                   string
}

// StartVM defines and starts a real QEMU domain (<domain type='qemu'>, TCG:
// nested KVM hangs here) that boots VMImage's kernel and initramfs, with QEMU
// user-mode networking forwarding ListenAddr to the guest's port 80 (no libvirt
// network). It waits until the page answers over HTTP, and destroys and
// undefines the domain at cleanup.
func (l *LibvirtEnv) StartVM(t TB, opts VMOptions) *VM {
	t.Helper()
	lookBin(t, "qemu-system-x86_64", "qemu-system-x86")
	kernel, initrd := VMImage(t)
	vm := &VM{Name: opts.Name, ListenAddr: opts.ListenAddr, Body: opts.Body}
	if vm.Name == "" {
		vm.Name = UniqueName(t, "vcrvm-")
	}
	if vm.ListenAddr == "" {
		vm.ListenAddr = fmt.Sprintf("127.0.0.5:%d", FreePort(t))
	}
	host, port, err := net.SplitHostPort(vm.ListenAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		t.Fatalf("testenv: StartVM: ListenAddr %q must be 127.0.0.X:PORT", vm.ListenAddr)
	}
	if vm.Body == "" {
		vm.Body = "vm " + vm.Name + "\n"
	}
	mem := opts.MemoryMiB
	if mem == 0 {
		mem = 256
	}
	boot := opts.BootTimeout
	if boot == 0 {
		boot = 120 * time.Second
	}
	dir := t.TempDir()
	_ = os.Chmod(dir, 0o755)
	vm.Console = filepath.Join(dir, "console.log")
	cmdline := "console=ttyS0 panic=-1 vcrbody=" + base64.StdEncoding.EncodeToString([]byte(vm.Body))
	if len(cmdline) > 1900 {
		t.Fatalf("testenv: StartVM: Body too long for the kernel command line (%d bytes base64): keep it under ~1.3 kB", len(cmdline))
	}
	start := l.startDomain(t, domainSpec{name: vm.Name, memoryMiB: mem, kernel: kernel, initrd: initrd,
		cmdline: cmdline, console: vm.Console, forwards: []string{host + ":" + port + "-:80"},
		metadata: opts.Metadata, devices: opts.Devices})
	vm.UUID = start.uuid
	WaitHTTP(t, "http://"+vm.ListenAddr+"/", boot, start.diag)
	t.Logf("testenv: VM %s (%s) answers on %s after %s", vm.Name, vm.UUID, vm.ListenAddr, time.Since(start.at).Round(10*time.Millisecond))
	return vm
}

// domainSpec is what differs between the test VMs: the busybox VM of StartVM
// and the service primaries of StartServiceVM.
type domainSpec struct {
	name           string
	memoryMiB      int
	kernel, initrd string
	cmdline        string
	console        string   // file receiving the serial console
	disk           string   // raw disk image attached as virtio /dev/vda; "" for none
	forwards       []string // QEMU hostfwd rules "HOSTADDR:HOSTPORT-:GUESTPORT"
	metadata       string   // XML inside <metadata>
	devices        string   // extra XML inside <devices>; one with a <memballoon> replaces the default none
}

// startedDomain says when the domain started, its UUID, and how to describe
// its state when a readiness wait fails.
type startedDomain struct {
	uuid string
	at   time.Time
	diag func() string
}

// startDomain defines and starts a QEMU TCG domain (<domain type='qemu'>:
// nested KVM hangs here) with QEMU user networking and the given port
// forwards (no libvirt network), and destroys and undefines it at cleanup.
// The NIC sits at PCI slot 0x10, clear of the slots libvirt assigns to its
// own devices (the disk).
func (l *LibvirtEnv) startDomain(t TB, spec domainSpec) startedDomain {
	t.Helper()
	var fwd strings.Builder
	for _, f := range spec.forwards {
		fwd.WriteString(",hostfwd=tcp:" + f)
	}
	var disk string
	if spec.disk != "" {
		disk = fmt.Sprintf("\n    <disk type='file' device='disk'><driver name='qemu' type='raw' cache='unsafe'/><source file='%s'/><target dev='vda' bus='virtio'/></disk>", xmlEscape(spec.disk))
	}
	balloon := "<memballoon model='none'/>"
	if strings.Contains(spec.devices, "<memballoon") {
		balloon = ""
	}
	domXML := fmt.Sprintf(`<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>%s</name>
  <metadata>%s</metadata>
  <memory unit='MiB'>%d</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>%s</kernel>
    <initrd>%s</initrd>
    <cmdline>%s</cmdline>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>%s
    <serial type='file'><source path='%s'/><target port='0'/></serial>
    %s%s
  </devices>
  <seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>
  <qemu:commandline>
    <qemu:arg value='-netdev'/>
    <qemu:arg value='user,id=vcrnet0%s'/>
    <qemu:arg value='-device'/>
    <qemu:arg value='e1000,netdev=vcrnet0,addr=0x10'/>
  </qemu:commandline>
</domain>`, xmlEscape(spec.name), spec.metadata, spec.memoryMiB, xmlEscape(spec.kernel), xmlEscape(spec.initrd), xmlEscape(spec.cmdline), disk, xmlEscape(spec.console),
		balloon, spec.devices, xmlEscape(fwd.String()))

	conn := l.Connect(t, "qemu:///system")
	dom, err := conn.DomainDefineXML(domXML)
	if err != nil {
		t.Fatalf("testenv: define QEMU domain %s: %v", spec.name, err)
	}
	var qemuPID int
	t.Cleanup(func() {
		if d, err := conn.DomainLookupByName(spec.name); err == nil {
			_ = conn.DomainDestroy(d)
			_ = conn.DomainUndefine(d)
		}
		// QEMU outlives a libvirtd that another test process stopped, and then
		// the calls above cannot reach it: stop it by its PID.
		if qemuPID > 0 && qemuRuns(qemuPID, spec.name) {
			t.Logf("testenv: VM %s: libvirt could not destroy it; killing QEMU pid %d", spec.name, qemuPID)
			_ = syscall.Kill(qemuPID, syscall.SIGKILL)
		}
	})
	diag := func() string {
		return fmt.Sprintf("guest console %s:\n%s\nQEMU log /var/log/libvirt/qemu/%s.log:\n%s",
			spec.console, tailFile(spec.console, 15), spec.name, tailFile("/var/log/libvirt/qemu/"+spec.name+".log", 10))
	}
	at := time.Now()
	if err := conn.DomainCreate(dom); err != nil {
		t.Fatalf("testenv: start QEMU domain %s: %v\n%s", spec.name, err, diag())
	}
	if b, err := os.ReadFile("/run/libvirt/qemu/" + spec.name + ".pid"); err == nil {
		qemuPID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	return startedDomain{uuid: virt.FormatUUID(dom.UUID), at: at, diag: diag}
}

// Destroy powers the VM off hard (lifecycle event Stopped/Destroyed).
func (vm *VM) Destroy(t TB, l *LibvirtEnv) {
	t.Helper()
	conn := l.Connect(t, "qemu:///system")
	d, err := conn.DomainLookupByName(vm.Name)
	if err != nil {
		t.Fatalf("testenv: look up VM %s: %v", vm.Name, err)
	}
	if err := conn.DomainDestroy(d); err != nil {
		t.Fatalf("testenv: destroy VM %s: %v", vm.Name, err)
	}
}

// Domain returns the go-libvirt handle of the VM on conn (qemu:///system).
func (vm *VM) Domain(t TB, conn *libvirt.Libvirt) libvirt.Domain {
	t.Helper()
	d, err := conn.DomainLookupByName(vm.Name)
	if err != nil {
		t.Fatalf("testenv: look up VM %s: %v", vm.Name, err)
	}
	return d
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// qemuRuns reports whether pid is still the QEMU process of domain name
// (the PID may have been reused since).
func qemuRuns(pid int, name string) bool {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && bytes.Contains(cmdline, []byte("guest="+name+","))
}
