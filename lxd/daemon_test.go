package lxd_test

// The real LXD daemons of the integration tests and benchmarks: one pair per
// test binary (test/testenv), shared by all of them, stopped in TestMain.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

var (
	pairOnce   sync.Once
	pairA      *testenv.LXD
	pairB      *testenv.LXD
	pairErr    error
	pairRunner *testenv.Runner
	pairRoot   string
)

// testPair returns the shared two daemons (the standby, whose services listen
// on 127.0.0.2, and the "bigger VM" on 127.0.0.3), starting them on first
// use. Integration tests skip under -short and when not root.
func testPair(tb testing.TB) (*testenv.LXD, *testenv.LXD) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("integration test: needs real LXD daemons (skipped with -short)")
	}
	if os.Geteuid() != 0 {
		tb.Skip("integration test: needs root to run LXD")
	}
	if _, err := exec.LookPath("lxd"); err != nil {
		tb.Skip("lxd not installed (make deps)")
	}
	pairOnce.Do(func() {
		if pairRoot, pairErr = os.MkdirTemp("", "vcr-lxd-test-"); pairErr != nil {
			return
		}
		logf := func(f string, a ...any) {
			if testing.Verbose() {
				fmt.Fprintf(os.Stderr, f+"\n", a...)
			}
		}
		pairRunner = testenv.NewRunner(pairRoot, logf)
		var wg sync.WaitGroup
		var errA, errB error
		wg.Add(2)
		go func() {
			defer wg.Done()
			errA = pairRunner.Run(func() {
				pairA = testenv.StartLXD(pairRunner, testenv.LXDOptions{Name: "standby", Address: "127.0.0.2"})
			})
		}()
		go func() {
			defer wg.Done()
			errB = pairRunner.Run(func() { pairB = testenv.StartLXD(pairRunner, testenv.LXDOptions{Name: "bigvm", Address: "127.0.0.3"}) })
		}()
		wg.Wait()
		if pairErr = errA; pairErr == nil {
			pairErr = errB
		}
	})
	if pairErr != nil {
		tb.Fatalf("start LXD pair: %v", pairErr)
	}
	return pairA, pairB
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pairRunner != nil {
		pairRunner.Close()
	}
	if pairRoot != "" {
		os.RemoveAll(pairRoot)
	}
	os.Exit(code)
}

func socketClient(tb testing.TB, x *testenv.LXD) *lxd.Client {
	tb.Helper()
	c, err := lxd.Connect(context.Background(), lxd.Config{Socket: x.Socket})
	if err != nil {
		tb.Fatalf("connect to %s: %v", x.Socket, err)
	}
	return c
}

func httpsClient(tb testing.TB, x *testenv.LXD) *lxd.Client {
	tb.Helper()
	c, err := lxd.Connect(context.Background(), lxd.Config{URL: x.URL, ClientCert: x.ClientCert, ClientKey: x.ClientKey, ServerCert: x.ServerCert})
	if err != nil {
		tb.Fatalf("connect to %s: %v", x.URL, err)
	}
	return c
}

// rootfs is an instance's root filesystem on the host (dir pool).
func rootfs(x *testenv.LXD, instance string) string {
	return filepath.Join(x.Dir, "storage-pools", "default", "containers", instance, "rootfs")
}
