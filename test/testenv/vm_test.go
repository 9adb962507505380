package testenv

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestStartVMServesThroughHostfwd(t *testing.T) {
	needRoot(t)
	lv := Libvirt(t)
	vm := lv.StartVM(t, VMOptions{ListenAddr: fmt.Sprintf("127.0.0.5:%d", FreePort(t)), Body: "hello from the VM\n"})
	resp, err := http.Get("http://" + vm.ListenAddr + "/")
	if err != nil {
		t.Fatalf("GET %s: %v", vm.ListenAddr, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello from the VM\n" {
		t.Fatalf("VM page = %q, want the Body", body)
	}
	if out := lv.Virsh(t, "qemu:///system", "domstate", vm.Name); out != "running\n\n" {
		t.Fatalf("virsh domstate %s = %q, want running", vm.Name, out)
	}
	vm.Destroy(t, lv)
	if out := lv.Virsh(t, "qemu:///system", "domstate", vm.Name); out != "shut off\n\n" {
		t.Fatalf("after Destroy, virsh domstate %s = %q, want shut off", vm.Name, out)
	}
	if _, err := http.Get("http://" + vm.ListenAddr + "/"); err == nil {
		t.Fatalf("%s still answers after Destroy", vm.ListenAddr)
	}
}

// A libvirtd stopped under a running VM (by another test process) must not
// leave the VM's QEMU running after the test.
func TestStartVMCleanupWithoutLibvirt(t *testing.T) {
	needRoot(t)
	lv := Libvirt(t)
	var pid int
	var name string
	t.Run("vm", func(t *testing.T) {
		vm := lv.StartVM(t, VMOptions{ListenAddr: fmt.Sprintf("127.0.0.5:%d", FreePort(t))})
		name = vm.Name
		b, err := os.ReadFile("/run/libvirt/qemu/" + vm.Name + ".pid")
		if err != nil {
			t.Fatalf("QEMU pid file: %v", err)
		}
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		lv.StopDaemon(t)
	})
	lv.StartDaemon(t)
	if pid == 0 || qemuRuns(pid, name) {
		t.Fatalf("QEMU pid %d of %s still runs after its test ended with libvirtd gone", pid, name)
	}
	// The next libvirtd still knows the domain (its definition outlived the
	// daemon); remove it so it does not pile up.
	conn := lv.Connect(t, "qemu:///system")
	if d, err := conn.DomainLookupByName(name); err == nil {
		_ = conn.DomainUndefine(d)
	}
}
