package exporter

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vcrcovery/vcrcovery/exporter/internal/exportertest"
	"github.com/vcrcovery/vcrcovery/exporter/lifecycle"
)

// /metrics serves the same vcr_* series in every format a client may ask
// for: text (what Prometheus asks for, written straight from the libvirt
// collector's builder), gzip'd text, and protobuf (through promhttp), and
// they are those of the exporter's registry.
func TestMetricsEndpointFormats(t *testing.T) {
	fake := exportertest.NewFakeClient(exportertest.SampleRecords()...)
	exp, err := New(Options{Dial: func(context.Context) (lifecycle.Client, error) { return fake, nil },
		Host: "hv1", Cloud: "tokyo", Logger: exportertest.DiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	h, err := exp.Handler("/metrics", "test")
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, exp)
	exportertest.WaitFor(t, func() bool { return exp.sup.Current() != nil })
	srv := httptest.NewServer(h)
	defer srv.Close()
	// The first scrape starts the inventory's refresh; wait for its job
	// answer, so that every gather below sees the same series.
	exportertest.WaitFor(t, func() bool {
		_, ok := exportertest.Gather(t, exp.Registry())["vcr_domain_job_type"]
		return ok
	})

	want := series(exportertest.Gather(t, exp.Registry()))
	for name, hdr := range map[string]http.Header{
		"text":     {"Accept": {"text/plain"}, "Accept-Encoding": {"identity"}},
		"gzip":     {"Accept": {"text/plain;version=0.0.4;q=0.5,*/*;q=0.1"}, "Accept-Encoding": {"gzip"}},
		"protobuf": {"Accept": {"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"}},
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
			req.Header = hdr
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body := io.Reader(resp.Body)
			if name == "gzip" {
				if resp.Header.Get("Content-Encoding") != "gzip" {
					t.Fatalf("gzip asked for, got Content-Encoding %q", resp.Header.Get("Content-Encoding"))
				}
				if body, err = gzip.NewReader(resp.Body); err != nil {
					t.Fatal(err)
				}
			}
			format := expfmt.ResponseFormat(resp.Header)
			wantType := expfmt.TypeTextPlain
			if name == "protobuf" {
				wantType = expfmt.TypeProtoDelim
			}
			if format.FormatType() != wantType {
				t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
			got := exportertest.Samples{}
			if format.FormatType() == expfmt.TypeTextPlain {
				got = exportertest.ParseMetrics(t, body)
			} else {
				dec := expfmt.NewDecoder(body, format)
				for {
					mf := new(dto.MetricFamily)
					if err := dec.Decode(mf); err != nil {
						break
					}
					got[mf.GetName()] = mf
				}
			}
			if g := series(got); !slices.Equal(g, want) {
				t.Errorf("%s: %d vcr series, registry %d\n got %v\nwant %v", name, len(g), len(want), g, want)
			}
		})
	}
}

// series lists the vcr_* series of a page, except those that differ
// between two gathers (durations).
func series(s exportertest.Samples) []string {
	var out []string
	for name, mf := range s {
		if len(name) < 4 || name[:4] != "vcr_" || name == "vcr_scrape_collector_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			ls := model.LabelSet{}
			for _, l := range m.GetLabel() {
				ls[model.LabelName(l.GetName())] = model.LabelValue(l.GetValue())
			}
			out = append(out, name+ls.String())
		}
	}
	sort.Strings(out)
	return out
}
