package testenv

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// vmImageVersion changes whenever the initramfs layout below changes.
const vmImageVersion = "2"

// vmImageModules are the kernelModules VMImage's initramfs carries and
// loads, in load order: e1000 for the network, the virtio PCI transport and
// virtio_balloon, which answers QEMU's memory stats requests, so that a
// domain with <memballoon model='virtio'><stats period='N'/> reports the
// guest's paging (swap, page faults) and its usable, unused and disk-cache
// memory. Without a virtio device the virtio ones only register.
var vmImageModules = []string{"e1000", "virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci", "virtio_balloon"}

// vmInit is the initramfs's /init. The kernel passes unknown command-line
// parameters without a dot to init as environment variables: vcrbody is the
// page (base64), vcrip the static guest address.
var vmInit = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /www /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in ` + strings.Join(vmImageModules, " ") + `; do insmod /lib/$m.ko || echo "VCR-VM: insmod $m failed"; done
ip link set lo up
ip link set eth0 up
ip addr add ${vcrip:-10.0.2.15}/24 dev eth0
ip route add default via 10.0.2.2
if [ -n "$vcrbody" ]; then echo "$vcrbody" | base64 -d > /www/index.html; else echo "vcrcovery test VM" > /www/index.html; fi
echo "VCR-VM-READY: httpd on :80"
while true; do httpd -f -p 80 -h /www; echo "httpd exited, restarting"; sleep 1; done
`

var kernelDebRE = regexp.MustCompile(`linux-image-6\.1\.0-[0-9]+-amd64`)

// kernelModules are the modules kept from the kernel package, in load order
// (each after what it depends on), with their path below lib/modules/<ver>/kernel.
// Debian builds them all as modules (its modules.builtin names none): e1000
// for the network of every VM; the virtio PCI transport for virtio_balloon
// (the guest's memory figures, see vmImageModules) and for the rest, which
// lets a service VM mount its ext4 root from a virtio disk (crc32c is what
// ext4 and jbd2 load through the crypto API).
var kernelModules = []struct{ name, path string }{
	{"e1000", "drivers/net/ethernet/intel/e1000/e1000.ko"},
	{"virtio_ring", "drivers/virtio/virtio_ring.ko"},
	{"virtio", "drivers/virtio/virtio.ko"},
	{"virtio_pci_legacy_dev", "drivers/virtio/virtio_pci_legacy_dev.ko"},
	{"virtio_pci_modern_dev", "drivers/virtio/virtio_pci_modern_dev.ko"},
	{"virtio_pci", "drivers/virtio/virtio_pci.ko"},
	{"virtio_balloon", "drivers/virtio/virtio_balloon.ko"},
	{"virtio_blk", "drivers/block/virtio_blk.ko"},
	{"crc16", "lib/crc16.ko"},
	{"mbcache", "fs/mbcache.ko"},
	{"crc32c_generic", "crypto/crc32c_generic.ko"},
	{"jbd2", "fs/jbd2/jbd2.ko"},
	{"ext4", "fs/ext4/ext4.ko"},
}

// kernelCached reports whether dir holds vmlinuz and every module.
func kernelCached(dir string) bool {
	for _, f := range append([]string{"vmlinuz"}, moduleFiles()...) {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

func moduleFiles() []string {
	var out []string
	for _, m := range kernelModules {
		out = append(out, m.name+".ko")
	}
	return out
}

// VMImage returns a Debian 6.1 amd64 kernel and a gzip'd busybox initramfs
// whose init loads vmImageModules (e1000, virtio PCI, virtio_balloon),
// configures lo and eth0 (QEMU user networking: 10.0.2.15/24, gateway
// 10.0.2.2) and runs `httpd -f -p 80`. Both are cached in CacheDir: the kernel
// package is fetched once with `apt-get download` and unpacked with `dpkg -x`.
func VMImage(t TB) (kernel, initrd string) {
	t.Helper()
	kdir := debianKernel(t)
	kernel = filepath.Join(kdir, "vmlinuz")
	bb := lookBin(t, "busybox", "busybox-static")
	bin, err := os.ReadFile(bb)
	if err != nil {
		t.Fatalf("testenv: read %s: %v", bb, err)
	}
	h := sha256.New()
	h.Write(bin)
	lib := map[string][]byte{}
	for _, m := range vmImageModules {
		ko, err := os.ReadFile(filepath.Join(kdir, m+".ko"))
		if err != nil {
			t.Fatalf("testenv: read cached %s.ko: %v (remove %s to refetch)", m, err, kdir)
		}
		lib[m+".ko"] = ko
		h.Write(ko)
	}
	io.WriteString(h, vmInit+vmImageVersion)
	initrd = filepath.Join(CacheDir(t), "vm-initrd-"+hex.EncodeToString(h.Sum(nil)[:6])+".cpio.gz")
	withCacheLock(t, "vm-initrd", func() {
		if _, err := os.Stat(initrd); err == nil {
			return
		}
		data, err := buildInitramfs(bin, vmInit, lib)
		if err != nil {
			t.Fatalf("testenv: build initramfs: %v", err)
		}
		if err := writeFileAtomic(initrd, data, 0o644); err != nil {
			t.Fatalf("testenv: write %s: %v", initrd, err)
		}
	})
	return kernel, initrd
}

// debianKernel returns a cache dir holding vmlinuz and kernelModules of a
// Debian linux-image-6.1.0-*-amd64 package, downloading it only if no cached
// dir holds them all.
func debianKernel(t TB) string {
	t.Helper()
	base := filepath.Join(CacheDir(t), "kernel")
	var dir string
	withCacheLock(t, "kernel", func() {
		ents, _ := filepath.Glob(filepath.Join(base, "*", "vmlinuz"))
		sort.Strings(ents)
		for i := len(ents) - 1; i >= 0; i-- {
			if kernelCached(filepath.Dir(ents[i])) {
				dir = filepath.Dir(ents[i])
				return
			}
		}
		pkg := kernelPackage(t)
		work := filepath.Join(base, "download")
		_ = os.RemoveAll(work)
		if err := os.MkdirAll(work, 0o755); err != nil {
			t.Fatalf("testenv: %v", err)
		}
		defer os.RemoveAll(work)
		cmd := exec.Command("apt-get", "download", pkg)
		cmd.Dir = work
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("testenv: apt-get download %s: %v\n%s\n(the VM kernel comes from the Debian mirror: check /etc/apt/sources.list and run apt-get update)", pkg, err, out)
		}
		debs, _ := filepath.Glob(filepath.Join(work, pkg+"_*.deb"))
		if len(debs) != 1 {
			t.Fatalf("testenv: apt-get download %s left %v in %s, want one .deb", pkg, debs, work)
		}
		x := filepath.Join(work, "x")
		if out, err := exec.Command("dpkg", "-x", debs[0], x).CombinedOutput(); err != nil {
			t.Fatalf("testenv: dpkg -x %s: %v\n%s", debs[0], err, out)
		}
		vmlinuz, _ := filepath.Glob(filepath.Join(x, "boot", "vmlinuz-*"))
		if len(vmlinuz) != 1 {
			t.Fatalf("testenv: %s: want one boot/vmlinuz-*, found %v", debs[0], vmlinuz)
		}
		ver := strings.TrimPrefix(filepath.Base(vmlinuz[0]), "vmlinuz-")
		files := [][2]string{}
		for _, m := range kernelModules {
			files = append(files, [2]string{filepath.Join(x, "lib", "modules", ver, "kernel", m.path), m.name + ".ko"})
		}
		dst := filepath.Join(base, ver)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatalf("testenv: %v", err)
		}
		// vmlinuz last: the Glob above trusts a dir once vmlinuz exists.
		for _, f := range append(files, [2]string{vmlinuz[0], "vmlinuz"}) {
			b, err := os.ReadFile(f[0])
			if err != nil {
				t.Fatalf("testenv: %s: %v (an uncompressed module is expected)", debs[0], err)
			}
			if err := writeFileAtomic(filepath.Join(dst, f[1]), b, 0o644); err != nil {
				t.Fatalf("testenv: %v", err)
			}
		}
		t.Logf("testenv: cached kernel %s in %s", ver, dst)
		dir = dst
	})
	return dir
}

// kernelPackage names the linux-image-6.1.0-N-amd64 package that
// linux-image-amd64 currently depends on, or the newest one apt knows.
func kernelPackage(t TB) string {
	t.Helper()
	if out, err := exec.Command("apt-cache", "depends", "linux-image-amd64").Output(); err == nil {
		if m := kernelDebRE.FindString(string(out)); m != "" {
			return m
		}
	}
	out, err := exec.Command("apt-cache", "search", "--names-only", `^linux-image-6\.1\.0-[0-9]+-amd64$`).Output()
	if err != nil {
		t.Fatalf("testenv: apt-cache search for a kernel: %v (run apt-get update)", err)
	}
	ms := kernelDebRE.FindAllString(string(out), -1)
	if len(ms) == 0 {
		t.Fatalf("testenv: apt knows no linux-image-6.1.0-*-amd64 package: run apt-get update (Debian 12 sources needed)")
	}
	sort.Slice(ms, func(i, j int) bool { return kernelABI(ms[i]) < kernelABI(ms[j]) })
	return ms[len(ms)-1]
}

func kernelABI(pkg string) int {
	var n int
	fmt.Sscanf(strings.TrimPrefix(pkg, "linux-image-6.1.0-"), "%d", &n)
	return n
}

// buildInitramfs writes a gzip'd newc cpio archive: busybox, lib (file name
// to content: kernel modules and the like) under /lib, and init as /init.
func buildInitramfs(busybox []byte, init string, lib map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	w := &cpioWriter{w: gz, ino: 1}
	for _, d := range []string{"bin", "dev", "lib", "proc", "sys", "tmp", "www"} {
		w.entry(d, 0o040755, nil)
	}
	w.entry("dev/console", 0o020600, nil) // char device 5:1, for early console output
	w.entry("bin/busybox", 0o100755, busybox)
	names := make([]string, 0, len(lib))
	for name := range lib {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		w.entry("lib/"+name, 0o100644, lib[name])
	}
	w.entry("init", 0o100755, []byte(init))
	w.entry("TRAILER!!!", 0, nil)
	if w.err != nil {
		return nil, w.err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type cpioWriter struct {
	w   io.Writer
	ino int
	n   int64
	err error
}

func (c *cpioWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.err = err
}

func (c *cpioWriter) pad() {
	if r := c.n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

func (c *cpioWriter) entry(name string, mode int, data []byte) {
	var rmaj, rmin int
	if name == "dev/console" {
		rmaj, rmin = 5, 1
	}
	nlink := 1
	if mode&0o040000 != 0 {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rmaj, rmin, len(name)+1, 0)
	c.ino++
	c.write([]byte(hdr))
	c.write(append([]byte(name), 0))
	c.pad()
	c.write(data)
	c.pad()
}
