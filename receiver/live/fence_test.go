package live

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/config"
	"github.com/vcrcovery/vcrcovery/receiver/pipeline"
	"github.com/vcrcovery/vcrcovery/test/testenv"
)

// TestFenceLibvirtTestDriver fences domains of libvirt's test driver through
// the real libvirtd.
func TestFenceLibvirtTestDriver(t *testing.T) {
	if testing.Short() {
		t.Skip("needs libvirtd")
	}
	env := testenv.Libvirt(t)
	drv := env.TestDriver(t)
	host := config.Host{Socket: env.Socket, URI: drv.URI, Timeout: 5 * time.Second}
	ctx := context.Background()
	var f Fencer

	uuid, name := drv.DefineNamed(t, "")
	what, err := f.Fence(ctx, host, name, uuid)
	if err != nil || !strings.HasPrefix(what, "destroyed") {
		t.Fatalf("fence running domain by UUID: %q, %v", what, err)
	}
	if st := drv.State(t, name); st != 5 {
		t.Fatalf("state after fencing = %d, want 5 (shut off)", st)
	}
	if what, err := f.Fence(ctx, host, name, ""); err != nil || what != "already shut off" {
		t.Fatalf("fence a shut-off domain by name: %q, %v", what, err)
	}
	if what, err := f.Fence(ctx, host, "vcr-no-such-domain", "6695eb01-f6a4-8304-79aa-000000000000"); err != nil || !strings.Contains(what, "not defined") {
		t.Fatalf("fence an unknown domain: %q, %v", what, err)
	}
}

func TestFenceUnreachableHost(t *testing.T) {
	host := config.Host{Socket: filepath.Join(t.TempDir(), "nothing.sock"), Timeout: time.Second}
	_, err := Fencer{}.Fence(context.Background(), host, "web01", "")
	if !errors.Is(err, pipeline.ErrHostUnreachable) {
		t.Fatalf("error = %v, want ErrHostUnreachable", err)
	}
}
