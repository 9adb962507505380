package lxd_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
)

// benchInstance creates a stopped busybox container for a benchmark.
func benchInstance(b *testing.B, c *lxd.Client, name string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	remove(c, name)
	if err := c.CreateInstance(ctx, lxd.CreateInstanceRequest{Name: name, Image: "busybox"}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { remove(c, name) })
}

// BenchmarkExportInstance: create a backup, stream it out, delete it.
func BenchmarkExportInstance(b *testing.B) {
	a, _ := testPair(b)
	c := socketClient(b, a)
	benchInstance(b, c, "bench-exp")
	ctx := context.Background()
	var size int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n, err := c.ExportInstance(ctx, "bench-exp", io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		size = n
	}
	b.ReportMetric(float64(size), "tarball-bytes")
}

// BenchmarkImportBackup: create an instance from an exported tarball.
func BenchmarkImportBackup(b *testing.B) {
	a, _ := testPair(b)
	c := socketClient(b, a)
	benchInstance(b, c, "bench-imp-src")
	ctx := context.Background()
	var tarball bytes.Buffer
	if _, err := c.ExportInstance(ctx, "bench-imp-src", &tarball); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("bench-imp-%d", i)
		if err := c.ImportBackup(ctx, bytes.NewReader(tarball.Bytes()), lxd.ImportOptions{Name: name}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := c.DeleteInstance(ctx, name); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkCopyStopped: copy a stopped container to the other daemon.
func BenchmarkCopyStopped(b *testing.B) {
	a, bb := testPair(b)
	src, dst := httpsClient(b, a), httpsClient(b, bb)
	benchInstance(b, src, "bench-cp")
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("bench-cp-%d", i)
		if err := src.CopyInstance(ctx, dst, "bench-cp", lxd.CopyOptions{TargetName: name}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := dst.DeleteInstance(ctx, name); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkRefreshCopy: the delta copy of a stateless move, onto a target
// that already holds a pre-copy (the part of scale-up downtime LXD owns).
func BenchmarkRefreshCopy(b *testing.B) {
	a, bb := testPair(b)
	src, dst := httpsClient(b, a), httpsClient(b, bb)
	benchInstance(b, src, "bench-rf")
	ctx := context.Background()
	remove(dst, "bench-rf")
	if err := src.CopyInstance(ctx, dst, "bench-rf", lxd.CopyOptions{}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { remove(dst, "bench-rf") })
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := src.CopyInstance(ctx, dst, "bench-rf", lxd.CopyOptions{Refresh: true}); err != nil {
			b.Fatal(err)
		}
	}
}
