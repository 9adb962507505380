package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// needRoot skips slow integration tests under -short and when not root.
func needRoot(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("integration test: needs root (daemons bind /run and start as root)")
	}
}

func TestRunnerCleanupOrderAndFatal(t *testing.T) {
	r := NewRunner(t.TempDir(), t.Logf)
	var order []int
	r.Cleanup(func() { order = append(order, 1) })
	r.Cleanup(func() { r.Fatalf("boom in cleanup") })
	r.Cleanup(func() { order = append(order, 3) })
	d := r.TempDir()
	if st, err := os.Stat(d); err != nil || !st.IsDir() {
		t.Fatalf("TempDir %s not created: %v", d, err)
	}
	err := r.Run(func() { r.Fatalf("failed: %d", 42) })
	if err == nil || err.Error() != "failed: 42" {
		t.Fatalf("Run returned %v, want the Fatalf message", err)
	}
	r.Close()
	if !slices.Equal(order, []int{3, 1}) {
		t.Fatalf("cleanups ran in order %v, want [3 1]", order)
	}
	if _, err := os.Stat(d); !os.IsNotExist(err) {
		t.Fatalf("TempDir %s survived Close: %v", d, err)
	}
}

func TestFreePortDistinct(t *testing.T) {
	seen := map[int]bool{}
	for i := 0; i < 20; i++ {
		p := FreePort(t)
		if p <= 0 || seen[p] {
			t.Fatalf("FreePort returned %d (seen before: %v)", p, seen[p])
		}
		seen[p] = true
	}
}

func TestBinary(t *testing.T) {
	r := NewRunner(t.TempDir(), t.Logf)
	defer r.Close()
	err := r.Run(func() { Binary(r, "no-such-binary") })
	if err == nil || !strings.Contains(err.Error(), "no package for binary") {
		t.Fatalf("Binary(no-such-binary) error = %v, want a clear 'no package' error", err)
	}
	// Build whichever command already has a main package (others write them).
	name := ""
	matches, _ := filepath.Glob(filepath.Join(ModuleRoot(t), "cmd", "*", "main.go"))
	if len(matches) == 0 {
		t.Skip("no ./cmd/<name>/main.go yet to build")
	}
	name = filepath.Base(filepath.Dir(matches[0]))
	p := Binary(t, name)
	if st, err := os.Stat(p); err != nil || st.Mode()&0o111 == 0 {
		t.Fatalf("Binary(%s) = %s, not an executable: %v", name, p, err)
	}
	if again := Binary(t, name); again != p {
		t.Fatalf("second Binary(%s) = %s, want cached %s", name, again, p)
	}
}

func TestLibvirtTestDriver(t *testing.T) {
	needRoot(t)
	lv := Libvirt(t)
	d := lv.TestDriver(t)
	uuid, name := d.DefineNamed(t, "")
	if len(uuid) != 36 {
		t.Fatalf("uuid %q is not a UUID", uuid)
	}
	list := lv.Virsh(t, d.VirshURI, "list", "--name")
	if !strings.Contains(list, name) {
		t.Fatalf("virsh list does not show %s:\n%s", name, list)
	}
	if got := strings.TrimSpace(lv.Virsh(t, d.VirshURI, "domuuid", name)); got != uuid {
		t.Fatalf("virsh domuuid %s = %q, want %q", name, got, uuid)
	}
	d.Suspend(t, name)
	if st := d.State(t, name); st != 3 {
		t.Fatalf("after Suspend state = %d, want 3 (paused)", st)
	}
	d.Resume(t, name)
	d.Destroy(t, name)
	if st := d.State(t, name); st != 5 {
		t.Fatalf("after Destroy state = %d, want 5 (shutoff)", st)
	}
	d.Start(t, name)
	if st := d.State(t, name); st != 1 {
		t.Fatalf("after Start state = %d, want 1 (running)", st)
	}
	d.Destroy(t, name)
	d.Undefine(t, name)
	if all := lv.Virsh(t, d.VirshURI, "list", "--all", "--name"); strings.Contains(all, name) {
		t.Fatalf("%s still listed after Undefine:\n%s", name, all)
	}
}

func TestNamedTSIGUpdate(t *testing.T) {
	needRoot(t)
	for _, alg := range []string{"hmac-sha256", "hmac-sha512"} {
		t.Run(alg, func(t *testing.T) {
			n := StartNamed(t, NamedOptions{Zone: "vcr.test.", Algorithm: alg, Records: map[string]string{"web": "127.0.0.2"}})
			if got := n.Lookup(t, "web"); !slices.Equal(got, []string{"127.0.0.2"}) {
				t.Fatalf("initial web A = %v, want [127.0.0.2]", got)
			}
			host, port, _ := strings.Cut(n.Addr, ":")
			script := "server " + host + " " + port + "\nzone vcr.test.\nupdate delete web.vcr.test. A\nupdate add web.vcr.test. 5 A 127.0.0.3\nsend\n"
			nsupdate := func(key string) (string, error) {
				cmd := exec.Command("nsupdate", "-y", key)
				cmd.Stdin = strings.NewReader(script)
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			wrong := alg + ":" + n.KeyName + ":" + "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCB3cm9uZyE="
			if out, err := nsupdate(wrong); err == nil {
				t.Fatalf("nsupdate with a wrong secret succeeded:\n%s", out)
			} else if !strings.Contains(out, "NOTAUTH") && !strings.Contains(out, "BADSIG") {
				t.Fatalf("nsupdate with a wrong secret failed without NOTAUTH/BADSIG: %v\n%s", err, out)
			}
			if got := n.Lookup(t, "web"); !slices.Equal(got, []string{"127.0.0.2"}) {
				t.Fatalf("web A after refused update = %v, want [127.0.0.2]", got)
			}
			secret, err := os.ReadFile(n.KeyFile)
			if err != nil || strings.TrimSpace(string(secret)) != n.KeySecret {
				t.Fatalf("KeyFile %s = %q (%v), want the secret", n.KeyFile, secret, err)
			}
			if out, err := nsupdate(n.NsupdateKey()); err != nil {
				t.Fatalf("nsupdate with the right key: %v\n%s", err, out)
			}
			if got := n.Lookup(t, "web"); !slices.Equal(got, []string{"127.0.0.3"}) {
				t.Fatalf("web A after update = %v, want [127.0.0.3]", got)
			}
		})
	}
}
