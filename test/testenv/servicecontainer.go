package testenv

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ServiceContainerOptions configures LaunchServiceContainer.
type ServiceContainerOptions struct {
	Name           string // default: unique, from the test name
	Address        string // loopback address of the proxy devices for 22, 80 and 3306; default ServiceAddress
	ServerID       int    // MariaDB server_id; default 2
	AuthorizedKeys []string
	// ReplicationSource is a MariaDB on the host side (host:port) that this
	// container's MariaDB will replicate from. The container has no NIC, so a
	// proxy device bound inside it listens on ReplicationSourceInside and
	// connects there. Empty: no such device.
	ReplicationSource string
}

// ReplicationSourceInside is where a service container reaches its
// ReplicationSource from inside.
const ReplicationSourceInside = "127.0.0.1:3307"

// ServiceContainer is a standby container running the real services.
type ServiceContainer struct {
	Name    string
	Address string // 127.0.X.Y: SSH on 22, HTTP on 80, MariaDB on 3306 (LXD proxy devices)
	// MySQLForVMs is this container's MariaDB as a service VM reaches it
	// (10.0.2.2 is the host's 127.0.0.1 in QEMU user networking, where one
	// more proxy device listens).
	MySQLForVMs string
}

// HTTPAddr, MySQLAddr and SSHAddr are the service endpoints as host:port.
func (c *ServiceContainer) HTTPAddr() string {
	return net.JoinHostPort(c.Address, fmt.Sprint(HTTPPort))
}
func (c *ServiceContainer) MySQLAddr() string {
	return net.JoinHostPort(c.Address, fmt.Sprint(MySQLPort))
}
func (c *ServiceContainer) SSHAddr() string { return net.JoinHostPort(c.Address, fmt.Sprint(SSHPort)) }

// LaunchServiceContainer creates a container from the service image (imported
// into this daemon on first use as ServiceImageAlias), with proxy devices for
// SSH, HTTP and MariaDB on its own Address, root's authorized_keys and its
// MariaDB server_id written before it boots, starts it and waits until the
// three services answer.
func (x *LXD) LaunchServiceContainer(t TB, opts ServiceContainerOptions) *ServiceContainer {
	t.Helper()
	x.importServiceImage(t)
	c := &ServiceContainer{Name: opts.Name, Address: opts.Address}
	if c.Name == "" {
		c.Name = UniqueName(t, "svc-") // at most 35 characters: an LXD name is a host name
	}
	if c.Address == "" {
		c.Address = ServiceAddress(t)
	}
	serverID := opts.ServerID
	if serverID == 0 {
		serverID = 2
	}
	start := time.Now()
	x.Lxc(t, "init", ServiceImageAlias, c.Name)
	for _, p := range []int{SSHPort, HTTPPort, MySQLPort} {
		x.Lxc(t, "config", "device", "add", c.Name, fmt.Sprintf("port%d", p), "proxy",
			fmt.Sprintf("listen=tcp:%s:%d", c.Address, p), fmt.Sprintf("connect=tcp:127.0.0.1:%d", p))
	}
	c.MySQLForVMs = fmt.Sprintf("10.0.2.2:%d", FreePort(t))
	x.Lxc(t, "config", "device", "add", c.Name, "mysqlforvms", "proxy",
		"listen=tcp:127.0.0.1:"+strings.TrimPrefix(c.MySQLForVMs, "10.0.2.2:"), fmt.Sprintf("connect=tcp:127.0.0.1:%d", MySQLPort))
	if opts.ReplicationSource != "" {
		x.Lxc(t, "config", "device", "add", c.Name, "replsource", "proxy", "bind=instance",
			"listen=tcp:"+ReplicationSourceInside, "connect=tcp:"+opts.ReplicationSource)
	}
	dir := t.TempDir()
	push := func(content, dst, mode string) {
		f := filepath.Join(dir, filepath.Base(dst))
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatalf("testenv: %v", err)
		}
		x.Lxc(t, "file", "push", "-p", "--uid", "0", "--gid", "0", "--mode", mode, f, c.Name+dst)
	}
	push(fmt.Sprintf("[mariadbd]\nserver_id = %d\n", serverID), "/etc/mysql/mariadb.conf.d/61-vcr-server-id.cnf", "0644")
	if len(opts.AuthorizedKeys) > 0 {
		push(strings.Join(opts.AuthorizedKeys, "\n")+"\n", "/root/.ssh/authorized_keys", "0600")
	}
	diag := func() string {
		out, _ := x.LxcErr(t, "info", c.Name, "--show-log")
		return fmt.Sprintf("lxc info %s --show-log:\n%s\nlast lines of %s:\n%s", c.Name, out, x.Proc.Log, tailFile(x.Proc.Log, 10))
	}
	if out, err := x.LxcErr(t, "start", c.Name); err != nil {
		t.Fatalf("testenv: LXD %s: lxc start %s: %v\n%s\n%s", x.Name, c.Name, err, out, diag())
	}
	deadline := time.Now().Add(2 * time.Minute)
	waitBanner(t, c.SSHAddr(), "SSH-2.0", time.Until(deadline), diag)
	waitBanner(t, c.MySQLAddr(), "MariaDB", time.Until(deadline), diag)
	WaitHTTP(t, "http://"+c.HTTPAddr()+"/", time.Until(deadline), diag)
	t.Logf("testenv: service container %s answers on %s (22, 80, 3306) after %s", c.Name, c.Address, time.Since(start).Round(10*time.Millisecond))
	return c
}

// importServiceImage imports the service image into this daemon once.
func (x *LXD) importServiceImage(t TB) {
	t.Helper()
	if _, err := x.LxcErr(t, "image", "info", ServiceImageAlias); err == nil {
		return
	}
	meta, rootfs := ServiceLXDImage(t)
	start := time.Now()
	x.Lxc(t, "image", "import", meta, rootfs, "--alias", ServiceImageAlias)
	t.Logf("testenv: LXD %s: imported %s in %s", x.Name, ServiceImageAlias, time.Since(start).Round(10*time.Millisecond))
}
