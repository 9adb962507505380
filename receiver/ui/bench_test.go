package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vcrcovery/vcrcovery/receiver/api"
)

// BenchmarkIndex renders the status page from in-memory data: the cost of
// the page itself, without the receiver's journal reads. It uses 200
// incidents (10 shown as recent) and 50 services, a busy site's journal.
func BenchmarkIndex(b *testing.B) {
	f := loadFixture(b)
	var incs []api.Incident
	for i := range 50 {
		for _, inc := range f.incidents {
			inc.ID = fmt.Sprintf("%s-%d", inc.ID, i)
			incs = append(incs, inc)
		}
	}
	var svcs []api.ServiceStatus
	for i := range 50 {
		s := f.services[i%len(f.services)]
		s.Name = fmt.Sprintf("%s%d", s.Name, i)
		svcs = append(svcs, s)
	}
	src := f.source()
	src.IncidentsFunc = func(context.Context) ([]api.Incident, error) { return incs, nil }
	src.ServicesFunc = func(context.Context) ([]api.ServiceStatus, error) { return svcs, nil }
	h := New(src, Options{Now: func() time.Time { return fixedNow }})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
		b.SetBytes(int64(rec.Body.Len()))
	}
}
