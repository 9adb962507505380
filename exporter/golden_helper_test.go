package exporter

import (
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

func expfmtWrite(w io.Writer, mf *dto.MetricFamily) (int, error) {
	return expfmt.MetricFamilyToText(w, mf)
}

func gatherAndCompare(g prometheus.Gatherer, r io.Reader, names ...string) error {
	return testutil.GatherAndCompare(g, r, names...)
}
