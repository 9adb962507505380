package inventory

import (
	"context"
	"sync"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
)

// countingClient answers every domain with xml and job, and counts calls.
type countingClient struct {
	mu       sync.Mutex
	xml      string
	job      int32
	jobErr   error
	xmlCalls map[string]int
	jobCalls map[string]int
	pools    int
}

func newCountingClient(xml string) *countingClient {
	return &countingClient{xml: xml, xmlCalls: map[string]int{}, jobCalls: map[string]int{}}
}

func (c *countingClient) DomainGetXMLDesc(dom libvirt.Domain, _ libvirt.DomainXMLFlags) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.xmlCalls[dom.Name]++
	return c.xml, nil
}

func (c *countingClient) DomainGetJobStats(dom libvirt.Domain, _ libvirt.DomainGetJobStatsFlags) (int32, []libvirt.TypedParam, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.jobCalls[dom.Name]++
	return c.job, nil, c.jobErr
}

func (c *countingClient) ConnectListAllStoragePools(int32, libvirt.ConnectListAllStoragePoolsFlags) ([]libvirt.StoragePool, uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pools++
	return []libvirt.StoragePool{{Name: "b"}, {Name: "a"}}, 2, nil
}

func (c *countingClient) StoragePoolGetInfo(p libvirt.StoragePool) (uint8, uint64, uint64, uint64, error) {
	return 2, 100, 40, 60, nil
}

const smallXML = `<domain><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>`

func doms(names ...string) []Domain {
	var out []Domain
	for _, n := range names {
		out = append(out, Domain{Dom: libvirt.Domain{Name: n}, UUID: "uuid-" + n, Running: true})
	}
	return out
}

// XML is read once per domain, again only after a change event or the TTL,
// and forgotten with the domain.
func TestInventoryReadsXMLOnceUntilChanged(t *testing.T) {
	c := newCountingClient(smallXML)
	inv := New(Options{XMLTTL: time.Hour})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	inv.now = func() time.Time { return now }
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		inv.Refresh(ctx, c, doms("a", "b"))
	}
	if c.xmlCalls["a"] != 1 || c.xmlCalls["b"] != 1 {
		t.Fatalf("XML reads after 3 refreshes: %v, want 1 each", c.xmlCalls)
	}
	if i := inv.Info("uuid-a"); i == nil || i.Machine != "pc" {
		t.Fatalf("info a = %+v", i)
	}
	inv.Changed("uuid-a")
	inv.Refresh(ctx, c, doms("a", "b"))
	if c.xmlCalls["a"] != 2 || c.xmlCalls["b"] != 1 {
		t.Fatalf("after a change event on a: %v, want a read again, b not", c.xmlCalls)
	}
	now = now.Add(2 * time.Hour)
	inv.Refresh(ctx, c, doms("a"))
	if c.xmlCalls["a"] != 3 {
		t.Fatalf("after the TTL: %v, want a read again", c.xmlCalls)
	}
	if inv.Info("uuid-b") != nil {
		t.Fatal("b is no longer listed but still cached")
	}
}

// Every running domain is asked for its job once per interval; one with an
// active job at every refresh; a driver without job stats only once.
func TestInventoryJobPolling(t *testing.T) {
	c := newCountingClient(smallXML)
	inv := New(Options{JobInterval: time.Minute})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	inv.now = func() time.Time { return now }
	ctx := context.Background()
	ds := doms("idle", "migrating")
	ds = append(ds, Domain{Dom: libvirt.Domain{Name: "off"}, UUID: "uuid-off"})
	inv.Refresh(ctx, c, ds)
	if c.jobCalls["idle"] != 1 || c.jobCalls["off"] != 0 {
		t.Fatalf("first sweep: %v", c.jobCalls)
	}
	// "migrating" starts a job; the next sweep finds it.
	c.job = int32(libvirt.DomainJobUnbounded)
	now = now.Add(time.Minute)
	inv.Refresh(ctx, c, ds)
	c.job = 0
	now = now.Add(time.Second)
	inv.Refresh(ctx, c, ds)
	if c.jobCalls["idle"] != 3 {
		// idle was active too in the second sweep (the fake answers alike),
		// so it was asked again in the third refresh.
		t.Fatalf("idle asked %d times, want 3", c.jobCalls["idle"])
	}
	now = now.Add(time.Second)
	inv.Refresh(ctx, c, ds)
	if c.jobCalls["idle"] != 3 {
		t.Fatalf("a domain whose job ended is asked again before the interval: %v", c.jobCalls)
	}
	if j, ok := inv.Job("uuid-idle"); !ok || j.Active() {
		t.Fatalf("job of idle = %+v, %v", j, ok)
	}

	u := newCountingClient(smallXML)
	u.jobErr = libvirt.Error{Code: uint32(libvirt.ErrNoSupport), Message: "not supported"}
	inv = New(Options{JobInterval: time.Nanosecond})
	for i := 0; i < 3; i++ {
		inv.Refresh(ctx, u, doms("a", "b"))
	}
	if n := u.jobCalls["a"] + u.jobCalls["b"]; n != 1 {
		t.Fatalf("a driver without job stats was asked %d times, want 1", n)
	}
}

func TestInventoryPools(t *testing.T) {
	c := newCountingClient(smallXML)
	inv := New(Options{PoolInterval: time.Minute})
	inv.Refresh(context.Background(), c, nil)
	inv.Refresh(context.Background(), c, nil)
	p := inv.Pools()
	if c.pools != 1 || len(p) != 2 || p[0].Name != "a" || p[0].Available != 60 {
		t.Fatalf("pools %+v after %d lists, want a and b from one list", p, c.pools)
	}
}

// Kick never runs two refreshes at once, and never blocks.
func TestInventoryKickIsSingleFlight(t *testing.T) {
	c := &blockingClient{countingClient: newCountingClient(smallXML), release: make(chan struct{})}
	inv := New(Options{})
	start := time.Now()
	for i := 0; i < 5; i++ {
		inv.Kick(c, doms("a"))
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Kick blocked for %v", d)
	}
	close(c.release)
	deadline := time.Now().Add(5 * time.Second)
	for inv.refreshing.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := c.xmlCalls["a"]; n != 1 {
		t.Fatalf("%d XML reads from 5 kicks during one refresh, want 1", n)
	}
}

type blockingClient struct {
	*countingClient
	release chan struct{}
}

func (b *blockingClient) DomainGetXMLDesc(dom libvirt.Domain, f libvirt.DomainXMLFlags) (string, error) {
	<-b.release
	return b.countingClient.DomainGetXMLDesc(dom, f)
}

func TestParseMetadataKey(t *testing.T) {
	k, err := ParseMetadataKey("team=https://example.com/ops/1#owner/team@id")
	if err != nil || k.Label != "team" || k.Namespace != "https://example.com/ops/1" || len(k.Path) != 2 || k.Attr != "id" {
		t.Fatalf("parsed %+v, %v", k, err)
	}
	for _, bad := range []string{"", "team", "=https://x#a", "9team=https://x#a", "host=https://x#a", "__x=https://x#a",
		"team=#a", "team=https://x#a@"} {
		if _, err := ParseMetadataKey(bad); err == nil {
			t.Errorf("ParseMetadataKey(%q) accepted", bad)
		}
	}
}

func TestParseDomainXMLWithoutMetadata(t *testing.T) {
	keys := []MetadataKey{{Label: "team", Namespace: "https://x"}}
	info, err := ParseDomainXML(smallXML, keys)
	if err != nil || info.Nova != nil || len(info.Metadata) != 1 || info.Metadata[0] != "" {
		t.Fatalf("info %+v, %v", info, err)
	}
	if _, err := ParseDomainXML("<domain>", nil); err == nil {
		t.Fatal("broken XML accepted")
	}
}
