package testenv

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// serviceInit is the /init of a service VM's initramfs: load the disk, ext4
// and network modules, configure QEMU user networking, mount the service
// rootfs from /dev/vda, write what differs per instance into it (vcrserverid:
// MariaDB's server_id; vcrsshkeys: base64 authorized_keys lines for root, both
// from the kernel command line), and hand over to its busybox init.
const serviceInit = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /newroot /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /lib/modules.order); do insmod /lib/$m.ko || echo "VCR-VM: insmod $m failed"; done
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
if ! mount -t ext4 -o rw /dev/vda /newroot; then
	echo "VCR-VM-FAILED: cannot mount /dev/vda"; sleep 2; poweroff -f
fi
if [ -n "$vcrserverid" ]; then
	printf '[mariadbd]\nserver_id = %s\n' "$vcrserverid" > /newroot/etc/mysql/mariadb.conf.d/61-vcr-server-id.cnf
fi
if [ -n "$vcrsshkeys" ]; then
	mkdir -p /newroot/root/.ssh && chmod 700 /newroot/root/.ssh
	echo "$vcrsshkeys" | base64 -d | while read -r line; do
		grep -qxF "$line" /newroot/root/.ssh/authorized_keys 2>/dev/null || echo "$line" >> /newroot/root/.ssh/authorized_keys
	done
	chmod 600 /newroot/root/.ssh/authorized_keys
fi
echo "VCR-VM: switching to the service rootfs"
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
`

// ServiceVMOptions configures StartServiceVM.
type ServiceVMOptions struct {
	Name           string        // domain name; default: unique, from the test name
	Address        string        // loopback address forwarded to the guest's 22, 80 and 3306; default ServiceAddress
	ServerID       int           // MariaDB server_id; default 1
	AuthorizedKeys []string      // authorized_keys lines for root
	MemoryMiB      int           // default 768
	BootTimeout    time.Duration // until SSH, MariaDB and HTTP answer; default 4 min
}

// ServiceVM is a primary running the real services in a QEMU TCG domain.
type ServiceVM struct {
	VM             // ListenAddr is Address:80
	Address string // 127.0.X.Y: SSH on 22, HTTP on 80, MariaDB on 3306 (QEMU hostfwd)
	Disk    string // this VM's copy of ServiceDisk
}

// HTTPAddr, MySQLAddr and SSHAddr are the service endpoints as host:port.
func (vm *ServiceVM) HTTPAddr() string  { return net.JoinHostPort(vm.Address, fmt.Sprint(HTTPPort)) }
func (vm *ServiceVM) MySQLAddr() string { return net.JoinHostPort(vm.Address, fmt.Sprint(MySQLPort)) }
func (vm *ServiceVM) SSHAddr() string   { return net.JoinHostPort(vm.Address, fmt.Sprint(SSHPort)) }

// StartServiceVM boots a primary: a real libvirt QEMU domain (TCG) whose root
// is an ext4 copy of the service rootfs (ServiceDisk), running Apache, MariaDB
// and sshd under busybox init, with QEMU hostfwd from Address:{22,80,3306} to
// the guest. A MariaDB inside reaches the host's 127.0.0.1 as 10.0.2.2. It
// waits until the three services answer, and destroys and undefines the
// domain at cleanup.
func (l *LibvirtEnv) StartServiceVM(t TB, opts ServiceVMOptions) *ServiceVM {
	t.Helper()
	lookBin(t, "qemu-system-x86_64", "qemu-system-x86")
	base := ServiceDisk(t)
	kernel, initrd := serviceKernel(t)
	vm := &ServiceVM{VM: VM{Name: opts.Name}, Address: opts.Address}
	if vm.Name == "" {
		vm.Name = UniqueName(t, "vcrsvc-")
	}
	if vm.Address == "" {
		vm.Address = ServiceAddress(t)
	}
	if ip := net.ParseIP(vm.Address); ip == nil || !ip.IsLoopback() {
		t.Fatalf("testenv: StartServiceVM: Address %q must be 127.X.Y.Z", vm.Address)
	}
	vm.ListenAddr = vm.HTTPAddr()
	serverID := opts.ServerID
	if serverID == 0 {
		serverID = 1
	}
	mem := opts.MemoryMiB
	if mem == 0 {
		mem = 768
	}
	boot := opts.BootTimeout
	if boot == 0 {
		boot = 4 * time.Minute
	}
	dir := t.TempDir()
	_ = os.Chmod(dir, 0o755)
	vm.Console = filepath.Join(dir, "console.log")
	vm.Disk = filepath.Join(dir, "disk.img")
	if out, err := exec.Command("cp", "--sparse=always", base, vm.Disk).CombinedOutput(); err != nil {
		t.Fatalf("testenv: copy %s: %v\n%s", base, err, out)
	}
	cmdline := fmt.Sprintf("console=ttyS0 panic=-1 quiet vcrserverid=%d", serverID)
	if len(opts.AuthorizedKeys) > 0 {
		cmdline += " vcrsshkeys=" + base64.StdEncoding.EncodeToString([]byte(strings.Join(opts.AuthorizedKeys, "\n")+"\n"))
	}
	if len(cmdline) > 1900 {
		t.Fatalf("testenv: StartServiceVM: %d authorized keys make the kernel command line too long: use ed25519 keys, at most ~10", len(opts.AuthorizedKeys))
	}
	var fwd []string
	for _, p := range []int{SSHPort, HTTPPort, MySQLPort} {
		fwd = append(fwd, fmt.Sprintf("%s:%d-:%d", vm.Address, p, p))
	}
	start := l.startDomain(t, domainSpec{name: vm.Name, memoryMiB: mem, kernel: kernel, initrd: initrd,
		cmdline: cmdline, console: vm.Console, disk: vm.Disk, forwards: fwd})
	vm.UUID = start.uuid
	deadline := time.Now().Add(boot)
	waitBanner(t, vm.SSHAddr(), "SSH-2.0", time.Until(deadline), start.diag)
	waitBanner(t, vm.MySQLAddr(), "MariaDB", time.Until(deadline), start.diag)
	WaitHTTP(t, "http://"+vm.HTTPAddr()+"/", time.Until(deadline), start.diag)
	t.Logf("testenv: service VM %s (%s) answers on %s (22, 80, 3306) after %s", vm.Name, vm.UUID, vm.Address, time.Since(start.at).Round(10*time.Millisecond))
	return vm
}

// serviceKernel returns the Debian kernel and the service VMs' initramfs
// (busybox, kernelModules, serviceInit), cached in CacheDir.
func serviceKernel(t TB) (kernel, initrd string) {
	t.Helper()
	kdir := debianKernel(t)
	bb := lookBin(t, "busybox", "busybox-static")
	bin, err := os.ReadFile(bb)
	if err != nil {
		t.Fatalf("testenv: read %s: %v", bb, err)
	}
	mods := map[string][]byte{}
	h := sha256.New()
	h.Write(bin)
	var order []string
	for _, m := range kernelModules {
		b, err := os.ReadFile(filepath.Join(kdir, m.name+".ko"))
		if err != nil {
			t.Fatalf("testenv: read cached module: %v (remove %s to refetch)", err, kdir)
		}
		mods[m.name+".ko"] = b
		h.Write(b)
		order = append(order, m.name)
	}
	io.WriteString(h, serviceInit)
	initrd = filepath.Join(CacheDir(t), "service-initrd-"+hex.EncodeToString(h.Sum(nil)[:6])+".cpio.gz")
	withCacheLock(t, "service-initrd", func() {
		if _, err := os.Stat(initrd); err == nil {
			return
		}
		mods["modules.order"] = []byte(strings.Join(order, "\n") + "\n")
		data, err := buildInitramfs(bin, serviceInit, mods)
		if err != nil {
			t.Fatalf("testenv: build service initramfs: %v", err)
		}
		if err := writeFileAtomic(initrd, data, 0o644); err != nil {
			t.Fatalf("testenv: write %s: %v", initrd, err)
		}
	})
	return filepath.Join(kdir, "vmlinuz"), initrd
}
