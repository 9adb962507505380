package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"time"
)

// report prints the results as a Markdown table.
func report(w io.Writer, rs []result) {
	host, _ := os.Hostname()
	fmt.Fprintf(w, "\n## Mass failover (`make bench-fleet`, %s, %d CPUs, %s)\n\n", host, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintln(w, "| run | services | alert→first switch | alert→last switch | detect→switch p50 | p90 | receiver CPU | CPU per service | peak RSS | journal | not resolved | not exactly once |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %d MiB | %s | %d | %d |\n", r.series, r.n,
			ms(r.first), ms(r.last), ms(r.p50), ms(r.p90), ms(r.cpu), ms(r.cpu/time.Duration(r.n)), r.rss>>20, size(r.journal), r.failed, r.notOnce)
	}
}

func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

func size(b int64) string {
	if b >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", b>>10)
}

// reportProfiles prints each profiled run's figures and where its
// receiver spent its CPU.
func reportProfiles(w io.Writer, rs []result) {
	for _, r := range rs {
		fmt.Fprintf(w, "\n### Profile: %s, %d services (alert→last switch %s, receiver CPU %s)\n\n```\n%s\n```\n",
			r.series, r.n, ms(r.last), ms(r.cpu), r.profile)
	}
}
