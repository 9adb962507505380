package cost

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// USD formats dollars with thousands separators and cents: $15,189.84,
// -$1,265.82.
func USD(v float64) string {
	neg := v < 0
	cents := int64(math.Round(math.Abs(v) * 100))
	whole := strconv.FormatInt(cents/100, 10)
	var b strings.Builder
	if neg && cents != 0 {
		b.WriteByte('-')
	}
	b.WriteByte('$')
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	fmt.Fprintf(&b, ".%02d", cents%100)
	return b.String()
}

// USDRate formats an hourly price with a tenth of a cent: $2.312, $0.008.
func USDRate(v float64) string {
	s := strconv.FormatFloat(math.Abs(v), 'f', 3, 64)
	if v < 0 && s != "0.000" {
		return "-$" + s
	}
	return "$" + s
}

// Seconds formats a recovery time for a table: 1.84s, 12.3s, 2m05s.
func Seconds(s float64) string {
	switch {
	case s < 10:
		return strconv.FormatFloat(s, 'f', 2, 64) + "s"
	case s < 120:
		return strconv.FormatFloat(s, 'f', 1, 64) + "s"
	default:
		m := int(s) / 60
		return fmt.Sprintf("%dm%02ds", m, int(s)-60*m)
	}
}

// RecoveryText is a model's measured recovery time for a table cell.
func (m *Model) RecoveryText() string {
	if m.Recovery == nil {
		return "not measured"
	}
	return fmt.Sprintf("%s (n=%d)", Seconds(m.Recovery.MedianSeconds), m.Recovery.Count)
}

// SavingsText is the saving against the baseline for a table cell.
func (m *Model) SavingsText() string {
	if m.Baseline == "" {
		return "-"
	}
	if m.SavingsUSD < 0 {
		return USD(-m.SavingsUSD) + " more"
	}
	return USD(m.SavingsUSD) + " saved"
}

// WriteTable prints the report as aligned text, the way vcrctl cost shows
// it.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "MODEL\tSTANDBY VMS\tPER HOUR\tPER YEAR\tVS CONVENTIONAL\tRECOVERY (MEDIAN)\n")
	for i := range r.Models {
		m := &r.Models[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, vms(m.StandbyVMs), USDRate(m.HourlyUSD), USD(m.AnnualUSD), m.SavingsText(), m.RecoveryText())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d primaries, %g hours a year. Recovery is detect to DNS switch, measured by the receiver.\n", r.Primaries, r.HoursPerYear)
	fmt.Fprintf(w, "Their services need %g vCPUs and %g GB together; %s standby VMs needed to hold them: %d.\n", r.Fit.VCPUs, r.Fit.MemoryGB, r.Fit.Size, r.Fit.VMs)
	if len(r.ColdShared) > 0 {
		fmt.Fprintf(w, "\nVCRcovery cold, per tenant, by tenants sharing the standby VM:\n")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "TENANTS\tPER YEAR\n")
		for _, t := range r.ColdShared {
			fmt.Fprintf(tw, "%d\t%s\n", t.Tenants, USD(t.AnnualUSD))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Sources) > 0 {
		names := make([]string, 0, len(r.Sources))
		for n := range r.Sources {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(w, "\nPrices:\n")
		for _, n := range names {
			fmt.Fprintf(w, "  %s: %s\n", n, r.Sources[n])
		}
	}
	return nil
}

func vms(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}
