// Package humanize formats durations and byte sizes short and readable for
// the operator-facing views (vcrctl tables, the receiver's web UI), so both
// show the same numbers the same way.
package humanize

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration formats d as 0s, 850µs, 12ms, 1.24s, 1m05s or 2h03m. Zero and
// negative durations print as 0s; callers that must tell them apart check
// first.
func Duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// Bytes formats n in binary units with one decimal: 512 B, 1.5 KiB,
// 50.0 MiB, 2.1 GiB.
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// VCPUs formats a number of vCPUs without trailing zeros: 2, 0.5.
func VCPUs(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// Resources formats an amount of CPUs and memory, "2 vCPUs and 512.0 MiB",
// leaving out a part that is zero; "" when both are.
func Resources(vcpus float64, memory int64) string {
	var parts []string
	if vcpus > 0 {
		parts = append(parts, VCPUs(vcpus)+" vCPUs")
	}
	if memory > 0 {
		parts = append(parts, Bytes(memory))
	}
	return strings.Join(parts, " and ")
}
