package testenv

import (
	"strings"
	"testing"
)

// A primary VM and a standby container boot the same service rootfs and run
// the real Apache, MariaDB and sshd, each on its own loopback address.
func TestServiceVMAndContainerRunTheRealServices(t *testing.T) {
	needRoot(t)
	key, pub := SSHKeyPair(t, "testenv")
	lv := Libvirt(t)
	x := StartLXD(t, LXDOptions{Name: "standby", NoImage: true})
	vm := lv.StartServiceVM(t, ServiceVMOptions{AuthorizedKeys: []string{pub}})
	c := x.LaunchServiceContainer(t, ServiceContainerOptions{AuthorizedKeys: []string{pub}, ReplicationSource: vm.MySQLAddr()})
	for _, tc := range []struct{ name, addr, serverID string }{
		{"VM", vm.SSHAddr(), "1"}, {"container", c.SSHAddr(), "2"},
	} {
		host := strings.Split(tc.addr, ":")[0]
		out, err := SSHRun(host, key, "mariadb -N -e 'SELECT @@server_id, @@log_bin, @@version' && test -s /var/www/html/index.html && echo apache-page")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !strings.HasPrefix(out, tc.serverID+"\t1\t10.11") || !strings.Contains(out, "apache-page") {
			t.Errorf("%s: server_id, log_bin, version = %q; want server_id %s, binlog on, MariaDB 10.11 and Apache's page", tc.name, out, tc.serverID)
		}
	}
	// The container reaches the primary's MariaDB through its bind=instance
	// proxy: the primary answers, and refuses the unknown account coming from
	// QEMU's gateway.
	if out, err := SSHRun(c.Address, key, "mariadb -h 127.0.0.1 -P 3307 -u nobody -e 'SELECT 1' 2>&1; true"); !strings.Contains(out, "Host '10.0.2.2' is not allowed") {
		t.Errorf("container to primary MariaDB through %s: %q, %v; want the primary refusing host 10.0.2.2", ReplicationSourceInside, out, err)
	}
	if out := lv.Virsh(t, "qemu:///system", "domstate", vm.Name); out != "running\n\n" {
		t.Errorf("virsh domstate %s = %q, want running", vm.Name, out)
	}
}
