package testenv

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// EtcdCluster is a real etcd cluster (Debian's etcd-server) of separate
// member processes on loopback, for tests of the receiver's shared journal.
type EtcdCluster struct {
	Endpoints []string // client URLs, http://127.0.0.1:<port>
	Members   []*Proc

	t       TB
	mu      sync.Mutex
	args    [][]string
	dirs    []string
	clients []string
}

// StartEtcdCluster starts n members and waits until the cluster has a leader.
// Elections are tuned short (50 ms heartbeat, 500 ms election timeout) so
// tests that kill members stay fast.
func StartEtcdCluster(t TB, n int) *EtcdCluster {
	t.Helper()
	c := &EtcdCluster{t: t}
	peers := make([]string, n)
	var initial []string
	for i := 0; i < n; i++ {
		c.clients = append(c.clients, fmt.Sprintf("http://127.0.0.1:%d", FreePort(t)))
		peers[i] = fmt.Sprintf("http://127.0.0.1:%d", FreePort(t))
		initial = append(initial, fmt.Sprintf("m%d=%s", i, peers[i]))
	}
	base := t.TempDir()
	for i := 0; i < n; i++ {
		dir := filepath.Join(base, fmt.Sprintf("m%d", i))
		c.dirs = append(c.dirs, dir)
		c.args = append(c.args, []string{
			"--name", fmt.Sprintf("m%d", i),
			"--data-dir", dir,
			"--listen-client-urls", c.clients[i], "--advertise-client-urls", c.clients[i],
			"--listen-peer-urls", peers[i], "--initial-advertise-peer-urls", peers[i],
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-state", "new", "--initial-cluster-token", "vcr-test",
			"--heartbeat-interval", "50", "--election-timeout", "500",
			"--log-level", "warn", "--logger", "zap",
		})
		c.Members = append(c.Members, nil)
	}
	for i := 0; i < n; i++ {
		c.start(i)
	}
	for i := 0; i < n; i++ {
		c.waitHealthy(i, 30*time.Second)
	}
	c.Endpoints = append([]string(nil), c.clients...)
	return c
}

func (c *EtcdCluster) start(i int) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Members[i] = startProc(c.t, procSpec{
		name: fmt.Sprintf("etcd-m%d", i), bin: "etcd", pkg: "etcd-server", args: c.args[i],
		log: c.dirs[i] + ".log",
	})
}

// waitHealthy waits until member i answers /health with a leader.
func (c *EtcdCluster) waitHealthy(i int, timeout time.Duration) {
	c.t.Helper()
	c.Members[i].waitReady(c.t, timeout, func() error {
		resp, err := httpClient.Get(c.clients[i] + "/health")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), `"health":"true"`) {
			return fmt.Errorf("health: %s", b)
		}
		return nil
	})
}

// Kill SIGKILLs member i.
func (c *EtcdCluster) Kill(i int) {
	c.mu.Lock()
	p := c.Members[i]
	c.mu.Unlock()
	p.Kill()
}

// Restart starts member i again on its data directory and waits until it
// answers; whether it is healthy depends on a quorum of members running.
func (c *EtcdCluster) Restart(i int) {
	c.t.Helper()
	c.start(i)
	c.Members[i].waitReady(c.t, 30*time.Second, func() error {
		resp, err := httpClient.Get(c.clients[i] + "/version")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}

// WaitHealthy waits until every running member reports a leader.
func (c *EtcdCluster) WaitHealthy(timeout time.Duration) {
	c.t.Helper()
	for i, p := range c.Members {
		if !p.Exited() {
			c.waitHealthy(i, timeout)
		}
	}
}
