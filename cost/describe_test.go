package cost

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// describe returns the collector's descriptors as text.
func describe(c prometheus.Collector) string {
	ch := make(chan *prometheus.Desc, 16)
	c.Describe(ch)
	close(ch)
	var b strings.Builder
	for d := range ch {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}
