package exporter

import (
	"net/http"
	"strconv"
	"time"
)

// scrapeBudget is how long the collectors of one scrape may take:
// --scrape.timeout, or less when the scraper gives up sooner. Prometheus
// sends its scrape_timeout as X-Prometheus-Scrape-Timeout-Seconds; a tenth of
// it, at most half a second, is kept back for encoding and the network, so
// that a slow collector costs its own success metric and never the whole
// scrape (which Prometheus would count as `up` 0: a lost host heartbeat).
func scrapeBudget(h http.Header, limit time.Duration) time.Duration {
	v, err := strconv.ParseFloat(h.Get("X-Prometheus-Scrape-Timeout-Seconds"), 64)
	if err != nil || v <= 0 {
		return limit
	}
	d := time.Duration(v * float64(time.Second))
	d -= min(d/10, 500*time.Millisecond)
	return min(d, limit)
}
