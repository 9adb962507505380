package testenv

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ServiceRootfs returns the root filesystem tarball of the real services
// (Apache, MariaDB, sshd, rsync; busybox init), built by scripts/build-rootfs.sh
// with mmdebstrap from this machine's apt sources and cached in CacheDir under
// the hash of that script (its package list and every change it makes). The
// first build takes 30-60 s; later calls return at once.
func ServiceRootfs(t TB) string {
	t.Helper()
	lookBin(t, "mmdebstrap", "mmdebstrap")
	script := filepath.Join(ModuleRoot(t), "scripts", "build-rootfs.sh")
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatalf("testenv: read %s: %v", script, err)
	}
	sum := sha256.Sum256(b)
	out := filepath.Join(CacheDir(t), "rootfs-"+hex.EncodeToString(sum[:])[:12]+".tar")
	withCacheLock(t, "rootfs", func() {
		if st, err := os.Stat(out); err == nil && st.Mode().IsRegular() {
			return
		}
		start := time.Now()
		if msg, err := exec.Command(script, out).CombinedOutput(); err != nil {
			t.Fatalf("testenv: %s: %v\n%s\n(mmdebstrap reads /etc/apt/sources.list*: check them and run apt-get update)", script, err, tail(string(msg), 20))
		}
		t.Logf("testenv: built the service rootfs %s in %s", out, time.Since(start).Round(time.Second))
	})
	return out
}

// ServiceImageAlias is the LXD alias of the service image (see ServiceRootfs).
const ServiceImageAlias = "vcr-services"

// ServiceLXDImage returns LXD's split image of the service rootfs: a metadata
// tarball (cached) and the rootfs tarball itself.
func ServiceLXDImage(t TB) (meta, rootfs string) {
	t.Helper()
	rootfs = ServiceRootfs(t)
	meta = strings.TrimSuffix(rootfs, ".tar") + "-lxd-meta.tar.gz"
	withCacheLock(t, "rootfs-lxd-meta", func() {
		if _, err := os.Stat(meta); err == nil {
			return
		}
		now := time.Now()
		metadata := fmt.Sprintf("architecture: x86_64\ncreation_date: %d\nproperties:\n  description: Apache, MariaDB, sshd, rsync (vcrcovery testenv)\n  os: debian\n  release: bookworm\n", now.Unix())
		data, err := tarGz(func(tw *tar.Writer) error {
			return tarFile(tw, "metadata.yaml", []byte(metadata), 0o644, now)
		})
		if err != nil {
			t.Fatalf("testenv: build LXD metadata: %v", err)
		}
		if err := writeFileAtomic(meta, data, 0o644); err != nil {
			t.Fatalf("testenv: write %s: %v", meta, err)
		}
	})
	return meta, rootfs
}

// ServiceDisk returns a raw ext4 disk image (2 GiB, sparse) holding the service
// rootfs, for the primaries' QEMU domains. It is cached beside the rootfs; a
// VM boots a sparse copy (StartServiceVM), never the cached file.
func ServiceDisk(t TB) string {
	t.Helper()
	mkfs := lookBin(t, "mkfs.ext4", "e2fsprogs")
	rootfs := ServiceRootfs(t)
	disk := strings.TrimSuffix(rootfs, ".tar") + "-disk.img"
	withCacheLock(t, "rootfs-disk", func() {
		if _, err := os.Stat(disk); err == nil {
			return
		}
		start := time.Now()
		tree := filepath.Join(filepath.Dir(disk), ".tree-"+filepath.Base(disk))
		_ = os.RemoveAll(tree)
		if err := os.MkdirAll(tree, 0o755); err != nil {
			t.Fatalf("testenv: %v", err)
		}
		defer os.RemoveAll(tree)
		if out, err := exec.Command("tar", "-x", "--numeric-owner", "-f", rootfs, "-C", tree).CombinedOutput(); err != nil {
			t.Fatalf("testenv: unpack %s: %v\n%s", rootfs, err, out)
		}
		tmp := disk + ".tmp"
		_ = os.Remove(tmp)
		if out, err := exec.Command(mkfs, "-q", "-F", "-L", "vcrroot", "-d", tree, tmp, "2G").CombinedOutput(); err != nil {
			t.Fatalf("testenv: mkfs.ext4 -d %s: %v\n%s", tree, err, out)
		}
		if err := os.Rename(tmp, disk); err != nil {
			t.Fatalf("testenv: %v", err)
		}
		t.Logf("testenv: built the service disk %s in %s", disk, time.Since(start).Round(time.Second))
	})
	return disk
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
