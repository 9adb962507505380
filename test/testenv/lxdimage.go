package testenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// lxdImageVersion changes whenever the image layout below changes, so cached
// tarballs from an older layout are not reused.
const lxdImageVersion = "2"

// lxdInittab brings lo up (the proxy device connects to 127.0.0.1 inside the
// container) and keeps busybox httpd serving /var/www on 127.0.0.1:8080.
const lxdInittab = `::sysinit:/bin/busybox ip link set lo up
::respawn:/bin/busybox httpd -f -p 127.0.0.1:8080 -h /var/www
`

// BusyboxImage returns the paths of the LXD image tarballs (metadata, rootfs) of
// the busybox httpd image, built offline from busybox-static and cached.
func BusyboxImage(t TB) (meta, rootfs string) {
	t.Helper()
	bb := lookBin(t, "busybox", "busybox-static")
	bin, err := os.ReadFile(bb)
	if err != nil {
		t.Fatalf("testenv: read %s: %v", bb, err)
	}
	if !bytes.Contains(bin, []byte("httpd")) {
		t.Fatalf("testenv: %s has no httpd applet: install the Debian package busybox-static", bb)
	}
	sum := sha256.Sum256(append(bin, lxdImageVersion...))
	dir := filepath.Join(CacheDir(t), "lxd-busybox-"+hex.EncodeToString(sum[:6]))
	meta, rootfs = filepath.Join(dir, "meta.tar.gz"), filepath.Join(dir, "rootfs.tar.gz")
	withCacheLock(t, "lxd-busybox", func() {
		if _, err := os.Stat(rootfs); err == nil {
			return
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("testenv: %v", err)
		}
		out, err := exec.Command(bb, "--list-full").Output()
		if err != nil {
			t.Fatalf("testenv: %s --list-full: %v", bb, err)
		}
		m, r, err := buildBusyboxTarballs(bin, strings.Fields(string(out)))
		if err != nil {
			t.Fatalf("testenv: build busybox image: %v", err)
		}
		if err := writeFileAtomic(meta, m, 0o644); err != nil {
			t.Fatalf("testenv: write %s: %v", meta, err)
		}
		if err := writeFileAtomic(rootfs, r, 0o644); err != nil {
			t.Fatalf("testenv: write %s: %v", rootfs, err)
		}
	})
	return meta, rootfs
}

// buildBusyboxTarballs makes LXD's split image format: metadata.yaml alone in
// one tarball, the root filesystem in the other.
func buildBusyboxTarballs(busybox []byte, applets []string) (meta, rootfs []byte, err error) {
	now := time.Now()
	metadata := fmt.Sprintf("architecture: x86_64\ncreation_date: %d\nproperties:\n  description: busybox httpd (vcrcovery testenv)\n  os: busybox\n  release: %s\n", now.Unix(), lxdImageVersion)
	meta, err = tarGz(func(tw *tar.Writer) error {
		return tarFile(tw, "metadata.yaml", []byte(metadata), 0o644, now)
	})
	if err != nil {
		return nil, nil, err
	}
	rootfs, err = tarGz(func(tw *tar.Writer) error {
		for _, d := range []string{"bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "run", "var", "var/www"} {
			mode := int64(0o755)
			if d == "tmp" {
				mode = 0o1777
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "./" + d + "/", Mode: mode, ModTime: now}); err != nil {
				return err
			}
		}
		if err := tarFile(tw, "bin/busybox", busybox, 0o755, now); err != nil {
			return err
		}
		for _, a := range applets {
			a = strings.TrimPrefix(a, "/")
			if a == "bin/busybox" || a == "" {
				continue
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "./" + a, Linkname: "/bin/busybox", Mode: 0o777, ModTime: now}); err != nil {
				return err
			}
		}
		files := map[string]string{
			"etc/inittab":        lxdInittab,
			"etc/passwd":         "root:x:0:0:root:/root:/bin/sh\n",
			"etc/group":          "root:x:0:\n",
			"var/www/index.html": "busybox httpd (vcrcovery testenv)\n",
		}
		for _, name := range []string{"etc/inittab", "etc/passwd", "etc/group", "var/www/index.html"} {
			if err := tarFile(tw, name, []byte(files[name]), 0o644, now); err != nil {
				return err
			}
		}
		return nil
	})
	return meta, rootfs, err
}

func tarGz(fill func(*tar.Writer) error) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := fill(tw); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func tarFile(tw *tar.Writer, name string, data []byte, mode int64, mt time.Time) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "./" + name, Mode: mode, Size: int64(len(data)), ModTime: mt}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}
