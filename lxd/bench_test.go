package lxd_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
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

// minSamples is how many timed runs each benchmark takes at least, whatever
// b.N is, so that `make bench` (-benchtime 1x) still reports a median.
const minSamples = 7

// sample runs f max(b.N, minSamples) times, timing only what f reports,
// and reports median-ms, max-ms and the mean as ns/op.
func sample(b *testing.B, f func(i int) time.Duration) {
	b.Helper()
	n := max(b.N, minSamples)
	ds := make([]time.Duration, 0, n)
	var sum time.Duration
	for i := 0; i < n; i++ {
		d := f(i)
		ds = append(ds, d)
		sum += d
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(ds[len(ds)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(sum.Nanoseconds())/float64(n), "ns/op")
}

// BenchmarkExportInstance: create a backup, stream it out, delete it.
func BenchmarkExportInstance(b *testing.B) {
	a, _ := testPair(b)
	c := socketClient(b, a)
	benchInstance(b, c, "bench-exp")
	ctx := context.Background()
	var size int64
	sample(b, func(int) time.Duration {
		start := time.Now()
		n, err := c.ExportInstance(ctx, "bench-exp", io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		size = n
		return time.Since(start)
	})
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
	sample(b, func(i int) time.Duration {
		name := fmt.Sprintf("bench-imp-%d", i)
		start := time.Now()
		if err := c.ImportBackup(ctx, bytes.NewReader(tarball.Bytes()), lxd.ImportOptions{Name: name}); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		if err := c.DeleteInstance(ctx, name); err != nil {
			b.Fatal(err)
		}
		return d
	})
}

// BenchmarkCopyStopped: copy a stopped container to the other daemon.
func BenchmarkCopyStopped(b *testing.B) {
	a, bb := testPair(b)
	src, dst := httpsClient(b, a), httpsClient(b, bb)
	benchInstance(b, src, "bench-cp")
	ctx := context.Background()
	sample(b, func(i int) time.Duration {
		name := fmt.Sprintf("bench-cp-%d", i)
		start := time.Now()
		if err := src.CopyInstance(ctx, dst, "bench-cp", lxd.CopyOptions{TargetName: name}); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		if err := dst.DeleteInstance(ctx, name); err != nil {
			b.Fatal(err)
		}
		return d
	})
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
	sample(b, func(int) time.Duration {
		start := time.Now()
		if err := src.CopyInstance(ctx, dst, "bench-rf", lxd.CopyOptions{Refresh: true}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	})
}

// BenchmarkStartToPort: start a stopped busybox service until its proxy
// port answers HTTP, then force-stop it (the stop is timed separately).
func BenchmarkStartToPort(b *testing.B) {
	a, _ := testPair(b)
	c := socketClient(b, a)
	ctx := context.Background()
	listen := servicePort(b, a.Address)
	remove(c, "bench-start")
	err := c.CreateInstance(ctx, lxd.CreateInstanceRequest{Name: "bench-start", Image: "busybox",
		Devices: map[string]map[string]string{"http": lxd.ProxyDevice(listen, "tcp:127.0.0.1:8080")}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { remove(c, "bench-start") })
	var stops, starts []time.Duration
	sample(b, func(int) time.Duration {
		start := time.Now()
		if err := c.StartInstance(ctx, "bench-start"); err != nil {
			b.Fatal(err)
		}
		starts = append(starts, time.Since(start))
		if _, err := fetch(listen, 10*time.Second); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		stop := time.Now()
		if err := c.StopInstance(ctx, "bench-start", 0); err != nil {
			b.Fatal(err)
		}
		stops = append(stops, time.Since(stop))
		return d
	})
	slices.Sort(stops)
	slices.Sort(starts)
	b.ReportMetric(float64(stops[len(stops)/2].Microseconds())/1000, "force-stop-median-ms")
	b.ReportMetric(float64(starts[len(starts)/2].Microseconds())/1000, "start-op-median-ms")
}

// BenchmarkStartReadyToPort: the same, with StartInstanceReady, which
// returns when the service answers instead of when LXD's operation ends.
func BenchmarkStartReadyToPort(b *testing.B) {
	a, _ := testPair(b)
	c := socketClient(b, a)
	ctx := context.Background()
	listen := servicePort(b, a.Address)
	remove(c, "bench-ready")
	err := c.CreateInstance(ctx, lxd.CreateInstanceRequest{Name: "bench-ready", Image: "busybox",
		Devices: map[string]map[string]string{"http": lxd.ProxyDevice(listen, "tcp:127.0.0.1:8080")}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { remove(c, "bench-ready") })
	probe := lxd.HTTPProbe("http://" + listen + "/")
	sample(b, func(int) time.Duration {
		start := time.Now()
		if err := c.StartInstanceReady(ctx, "bench-ready", probe, 0); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		// The stop queues behind LXD's still-running start operation.
		if err := c.StopInstance(ctx, "bench-ready", 0); err != nil {
			b.Fatal(err)
		}
		return d
	})
}

// BenchmarkFrozenMoveDowntime: the service outage of a stateless move done
// with this client's fastest calls: freeze the source, refresh the
// pre-copied target, start it until its port answers HTTP. Between samples
// the target is stopped and the source thawed, so each sample refreshes.
func BenchmarkFrozenMoveDowntime(b *testing.B) {
	a, bb := testPair(b)
	src, dst := httpsClient(b, a), httpsClient(b, bb)
	ctx := context.Background()
	listen, listenB := servicePort(b, a.Address), servicePort(b, bb.Address)
	remove(src, "bench-mv")
	remove(dst, "bench-mv")
	err := src.CreateInstance(ctx, lxd.CreateInstanceRequest{Name: "bench-mv", Image: "busybox", Start: true,
		Devices: map[string]map[string]string{"http": lxd.ProxyDevice(listen, "tcp:127.0.0.1:8080")}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { remove(src, "bench-mv") })
	dev := map[string]map[string]string{"http": lxd.ProxyDevice(listenB, "tcp:127.0.0.1:8080")}
	if err := src.CopyInstance(ctx, dst, "bench-mv", lxd.CopyOptions{Devices: dev}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { remove(dst, "bench-mv") })
	probe := lxd.HTTPProbe("http://" + listenB + "/")
	sample(b, func(int) time.Duration {
		start := time.Now()
		if err := src.FreezeInstance(ctx, "bench-mv"); err != nil {
			b.Fatal(err)
		}
		if err := src.CopyInstance(ctx, dst, "bench-mv", lxd.CopyOptions{Refresh: true, Devices: dev}); err != nil {
			b.Fatal(err)
		}
		if err := dst.StartInstanceReady(ctx, "bench-mv", probe, 0); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		if err := dst.StopInstance(ctx, "bench-mv", 0); err != nil {
			b.Fatal(err)
		}
		if err := src.UnfreezeInstance(ctx, "bench-mv"); err != nil {
			b.Fatal(err)
		}
		return d
	})
}
