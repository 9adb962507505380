package main

// The report: a Markdown table (docs/benchmarks.md, "The paper's experiment")
// and an SVG chart in the style of the paper's Figures 4 and 6: recovery time
// per service, VCRcovery beside the conventional system, warm and cold.

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func sec(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// conventional is the conventional system's recovery of rec's service: the
// same detection and fencing, then its own standby VM: booted (cold) or
// already running (warm), DNS switched, the first request or query.
func (res results) conventionalFor(rec recovery, cold bool) (dns, first time.Duration) {
	dns = rec.detectFence + res.convSwitch
	if cold {
		dns += res.convBoot
	}
	first = dns + res.convFirstWeb
	if rec.real != "apache" {
		first = dns + res.convDB
	}
	return dns, first
}

func (res results) printMarkdown(w io.Writer) {
	host, _ := os.Hostname()
	fmt.Fprintf(w, "\n## The paper's experiment, with real services (`make bench-paper`, %s, %s)\n\n", host, time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintln(w, "| strategy | service | VCRcovery: destroy→DNS | destroy→first request/query | conventional: destroy→DNS | destroy→first request/query |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, g := range []struct {
		name string
		recs []recovery
	}{{"warm", res.warm}, {"cold", res.cold}} {
		for _, rec := range g.recs {
			cd, cf := "—", "—"
			if res.conventional {
				d, f := res.conventionalFor(rec, g.name == "cold")
				cd, cf = sec(d), sec(f)
			}
			fmt.Fprintf(w, "| %s | %s (%s) | %s | %s | %s | %s |\n", g.name, rec.service, rec.real, sec(rec.dns), sec(rec.first), cd, cf)
		}
	}
	if res.conventional {
		fmt.Fprintf(w, "\nConventional standby VM (same rootfs, QEMU TCG): boot until Apache, MariaDB and SSH answer %s; DNS switch %s; then first request %s, first MariaDB answer %s. Its detection and fencing are VCRcovery's, taken per service from the same run.\n",
			sec(res.convBoot), sec(res.convSwitch), sec(res.convFirstWeb), sec(res.convDB))
	}
	fmt.Fprintf(w, "\nRPO of the database under writes (a client inserts a row every ~5 ms and records each acknowledged commit until the destroy):\n\n")
	fmt.Fprintln(w, "| strategy | acknowledged | present after recovery | lost | oldest lost, before the destroy | last acknowledgement, before the destroy |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, g := range []struct {
		name string
		r    rpoResult
	}{{"warm", res.warmRPO}, {"cold", res.coldRPO}} {
		oldest := "none lost"
		if g.r.lost() > 0 {
			oldest = sec(g.r.lostOldest)
		}
		name := g.name
		if g.r.backupAge > 0 {
			name += fmt.Sprintf(" (data backup %s old)", sec(g.r.backupAge))
		}
		fmt.Fprintf(w, "| %s | %d | %d | %d | %s | %s |\n", name, g.r.acked, g.r.present, g.r.lost(), oldest, sec(g.r.lastAck))
	}
}

// chart draws grouped bars: for each strategy and service, VCRcovery's and
// the conventional system's destroy→first request, with a tick at the DNS
// switch.
func (res results) chart() string {
	type bar struct {
		label      string
		dns, first time.Duration
		conv       bool
	}
	var groups [][]bar
	var titles []string
	for _, g := range []struct {
		name string
		recs []recovery
	}{{"warm standby", res.warm}, {"cold standby", res.cold}} {
		var bars []bar
		for _, rec := range g.recs {
			bars = append(bars, bar{label: rec.service, dns: rec.dns, first: rec.first})
			if res.conventional {
				d, f := res.conventionalFor(rec, strings.HasPrefix(g.name, "cold"))
				bars = append(bars, bar{label: rec.service, dns: d, first: f, conv: true})
			}
		}
		groups = append(groups, bars)
		titles = append(titles, g.name)
	}
	const w, h, left, top, barW, gap, groupGap = 960, 420, 60, 40, 22, 6, 50
	var max time.Duration
	for _, g := range groups {
		for _, b := range g {
			if b.first > max {
				max = b.first
			}
		}
	}
	if max == 0 {
		max = time.Second
	}
	scale := float64(h-top-80) / max.Seconds()
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14">Recovery time from virsh destroy (s): bar to the first successful request/query, tick at the DNS switch</text>`+"\n", left)
	base := h - 60
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, base, w-20, base)
	for i := 0; i <= 4; i++ {
		v := max.Seconds() * float64(i) / 4
		y := float64(base) - v*scale
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%.1f</text>`+"\n", left, y, w-20, y, left-6, y+4, v)
	}
	x := left + 20
	for gi, g := range groups {
		gx := x
		for _, bb := range g {
			color := "#3b7dd8"
			if bb.conv {
				color = "#d8893b"
			}
			y := float64(base) - bb.first.Seconds()*scale
			fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="%s"><title>%s: %s (DNS %s)</title></rect>`+"\n",
				x, y, barW, float64(base)-y, color, bb.label, sec(bb.first), sec(bb.dns))
			ty := float64(base) - bb.dns.Seconds()*scale
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black" stroke-width="2"/>`+"\n", x-3, ty, x+barW+3, ty)
			if !bb.conv || !res.conventional {
				fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", x+barW, base+16, bb.label)
			}
			x += barW + gap
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-size="13">%s</text>`+"\n", (gx+x)/2, base+36, titles[gi])
		x += groupGap
	}
	fmt.Fprintf(&b, `<rect x="%d" y="32" width="12" height="12" fill="#3b7dd8"/><text x="%d" y="42">VCRcovery (containers in one standby VM)</text>`+"\n", w-330, w-314)
	if res.conventional {
		fmt.Fprintf(&b, `<rect x="%d" y="50" width="12" height="12" fill="#d8893b"/><text x="%d" y="60">conventional (one standby VM per service)</text>`+"\n", w-330, w-314)
	}
	b.WriteString("</svg>\n")
	return b.String()
}
