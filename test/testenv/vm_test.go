package testenv

import (
	"fmt"
	"io"
	"net/http"
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
