package ui

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/receiver/config"
)

// LXDStandby reads the standby VMs' containers and their load from the LXD
// daemons in the receiver's lxd_remotes. CPU load is the CPU time used
// between two page loads; the first load shows only totals.
type LXDStandby struct {
	remotes map[string]config.LXDRemote

	mu      sync.Mutex
	clients map[string]*lxd.Client
	last    map[string]cpuSample // by remote/instance
	now     func() time.Time
}

type cpuSample struct {
	at    time.Time
	usage int64 // ns
}

// NewLXDStandby returns a Standby source over remotes (config.LXDRemotes).
func NewLXDStandby(remotes map[string]config.LXDRemote) *LXDStandby {
	return &LXDStandby{remotes: remotes, clients: map[string]*lxd.Client{}, last: map[string]cpuSample{}, now: time.Now}
}

// Standby lists every remote's instances with their state. A remote that
// cannot be reached is listed with its error; it never fails the page.
func (s *LXDStandby) Standby(ctx context.Context) ([]StandbyVM, error) {
	if len(s.remotes) == 0 {
		return nil, ErrUnsupported
	}
	names := make([]string, 0, len(s.remotes))
	for n := range s.remotes {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]StandbyVM, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = s.readVM(ctx, n)
		}()
	}
	wg.Wait()
	return out, nil
}

func (s *LXDStandby) client(ctx context.Context, name string) (*lxd.Client, error) {
	s.mu.Lock()
	c := s.clients[name]
	s.mu.Unlock()
	if c != nil {
		return c, nil
	}
	r := s.remotes[name]
	c, err := lxd.Connect(ctx, lxd.Config{Socket: r.Socket, URL: r.URL, ClientCert: r.ClientCert, ClientKey: r.ClientKey, ServerCert: r.ServerCert, Timeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.clients[name] = c
	s.mu.Unlock()
	return c, nil
}

func (s *LXDStandby) readVM(ctx context.Context, name string) StandbyVM {
	vm := StandbyVM{Name: name, Address: s.remotes[name].Address, Containers: []Container{}}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := s.client(ctx, name)
	if err != nil {
		vm.Error = fmt.Sprintf("cannot reach LXD %q: %v", name, err)
		return vm
	}
	insts, err := c.ListInstances(ctx)
	if err != nil {
		vm.Error = fmt.Sprintf("cannot list the containers on %q: %v", name, err)
		s.mu.Lock()
		delete(s.clients, name) // reconnect next time
		s.mu.Unlock()
		return vm
	}
	sort.Slice(insts, func(i, j int) bool { return insts[i].Name < insts[j].Name })
	for _, in := range insts {
		ct := Container{Name: in.Name, Status: in.Status, CPUPercent: -1}
		st, err := c.GetInstanceState(ctx, in.Name)
		if err == nil {
			ct.Status = st.Status
			ct.CPUSeconds = float64(st.CPU.Usage) / 1e9
			ct.MemoryBytes = st.Memory.Usage
			ct.Processes = st.Processes
			ct.CPUPercent = s.cpuPercent(name+"/"+in.Name, st.CPU.Usage)
		}
		vm.Containers = append(vm.Containers, ct)
	}
	return vm
}

func (s *LXDStandby) cpuPercent(key string, usage int64) float64 {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, ok := s.last[key]
	s.last[key] = cpuSample{at: now, usage: usage}
	el := now.Sub(prev.at)
	if !ok || el < 100*time.Millisecond || usage < prev.usage {
		return -1
	}
	return float64(usage-prev.usage) / float64(el.Nanoseconds()) * 100
}
