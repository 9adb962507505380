package capacity

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vcrcovery/vcrcovery/lxd"
	"github.com/vcrcovery/vcrcovery/receiver/api"
	"github.com/vcrcovery/vcrcovery/receiver/config"
)

// fakeReader serves fixed allocations and counts reads.
type fakeReader struct {
	mu     sync.Mutex
	allocs map[string]*lxd.Allocation
	reads  int
}

func (f *fakeReader) Allocation(_ context.Context, remote string) (*lxd.Allocation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if a, ok := f.allocs[remote]; ok {
		return a, nil
	}
	return nil, errors.New("connection refused")
}

func newView(t *testing.T, cfg *config.Config, r Reader, now *time.Time) *View {
	t.Helper()
	return New(Options{Config: func() *config.Config { return cfg }, Reader: r, Now: func() time.Time { return *now },
		Incidents: func(context.Context) ([]api.Incident, error) { return nil, nil }})
}

func TestViewCachesAndServes(t *testing.T) {
	cfg := parse(t, fleet)
	r := &fakeReader{allocs: machines()}
	now := time.Unix(1700000000, 0)
	v := newView(t, cfg, r, &now)
	v.Capacity(context.Background())
	v.Capacity(context.Background())
	if r.reads != 2 { // two remotes, read once
		t.Fatalf("%d reads within MaxAge, want 2", r.reads)
	}
	now = now.Add(DefaultMaxAge)
	rec := httptest.NewRecorder()
	v.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/capacity", nil))
	if r.reads != 4 {
		t.Fatalf("%d reads after MaxAge, want 4", r.reads)
	}
	var c api.Capacity
	if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil || len(c.Scopes) != 3 || !c.GeneratedAt.Equal(now) {
		t.Fatalf("served %s (%v)", rec.Body, err)
	}
}

func TestMetrics(t *testing.T) {
	cfg := parse(t, strings.Replace(fleet, "overflow_remote: bigger", "instance: db", 1))
	now := time.Unix(1700000000, 0)
	// The bigger VM cannot be read; nothing of h1 or h2 needs it.
	allocs := machines()
	delete(allocs, "bigger")
	v := newView(t, cfg, &fakeReader{allocs: allocs}, &now)
	want := `
# HELP vcr_capacity_fits 1 if the standbys would hold every service of the host or cloud (scope) with declared resources, were it to fail now; 0 if not, or if a standby could not be read.
# TYPE vcr_capacity_fits gauge
vcr_capacity_fits{name="c1",scope="cloud"} 0
vcr_capacity_fits{name="h1",scope="host"} 0
vcr_capacity_fits{name="h2",scope="host"} 1
# HELP vcr_capacity_shortfall_vcpus vCPUs the standbys lack to hold the services of the host or cloud, were it to fail now.
# TYPE vcr_capacity_shortfall_vcpus gauge
vcr_capacity_shortfall_vcpus{name="c1",scope="cloud"} 2
vcr_capacity_shortfall_vcpus{name="h1",scope="host"} 2
vcr_capacity_shortfall_vcpus{name="h2",scope="host"} 0
# HELP vcr_capacity_remote_up 1 if the LXD remote's resources and instances could be read.
# TYPE vcr_capacity_remote_up gauge
vcr_capacity_remote_up{remote="bigger"} 0
vcr_capacity_remote_up{remote="standby"} 1
`
	if err := testutil.CollectAndCompare(NewCollector(v), strings.NewReader(want), "vcr_capacity_fits", "vcr_capacity_shortfall_vcpus", "vcr_capacity_remote_up"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(NewCollector(v)); n != 3*5+1+5 {
		t.Errorf("%d series, want 5 per scope, 1 for the unread remote, 5 for the read one", n)
	}
}
