package main

// The curve as a hand-written SVG: two panels over the number of services,
// the time from the alert to the last switch and the receivers' CPU time,
// one line per series. Linear axes, so a cost that grows linearly with N
// is a straight line.

import (
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
	"time"
)

var seriesColors = []string{"#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563"}

const (
	panelW, panelH = 420, 260
	marginL        = 56
	marginT        = 40
	marginB        = 44
	gap            = 70
)

// curveSVG draws the results.
func curveSVG(rs []result) string {
	var names []string
	for _, r := range rs {
		if !slices.Contains(names, r.series) {
			names = append(names, r.series)
		}
	}
	width := marginL + 2*panelW + gap + 20
	legendH := 18 * len(names)
	height := marginT + panelH + marginB + legendH + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	panels := []struct {
		title string
		value func(result) time.Duration
	}{
		{"alert → last DNS switch (s)", func(r result) time.Duration { return r.last }},
		{"receiver CPU time (s)", func(r result) time.Duration { return r.cpu }},
	}
	for i, p := range panels {
		x0 := marginL + i*(panelW+gap)
		drawPanel(&b, x0, marginT, p.title, rs, names, p.value)
	}
	for i, name := range names {
		y := marginT + panelH + marginB + 12 + 18*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`, marginL, y-4, marginL+24, y-4, seriesColors[i%len(seriesColors)])
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", marginL+30, y, html.EscapeString(name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// drawPanel draws one chart with its top-left corner at (x0, y0).
func drawPanel(b *strings.Builder, x0, y0 int, title string, rs []result, names []string, value func(result) time.Duration) {
	maxN, maxV := 1, 0.001
	for _, r := range rs {
		maxN = max(maxN, r.n)
		maxV = max(maxV, value(r).Seconds())
	}
	top := niceCeil(maxV)
	right := niceCeil(float64(maxN))
	px := func(n int) float64 { return float64(x0) + float64(n)/right*panelW }
	py := func(v float64) float64 { return float64(y0+panelH) - v/top*panelH }
	fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", x0, y0-14, html.EscapeString(title))
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#9ca3af"/>`+"\n", x0, y0, panelW, panelH)
	for k := 0; k <= 4; k++ {
		v := top * float64(k) / 4
		y := py(v)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e7eb"/>`, x0, y, x0+panelW, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-6, y+4, trimFloat(v))
		n := right * float64(k) / 4
		x := float64(x0) + float64(k)/4*panelW
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, y0+panelH+16, trimFloat(n))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">services down at once</text>`+"\n", x0+panelW/2, y0+panelH+34)
	for i, name := range names {
		var pts []result
		for _, r := range rs {
			if r.series == name {
				pts = append(pts, r)
			}
		}
		slices.SortFunc(pts, func(a, b result) int { return a.n - b.n })
		color := seriesColors[i%len(seriesColors)]
		var path []string
		for _, p := range pts {
			path = append(path, fmt.Sprintf("%.1f,%.1f", px(p.n), py(value(p).Seconds())))
		}
		if len(path) > 1 {
			fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(path, " "), color)
		}
		for _, p := range pts {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s, %d services: %s</title></circle>`+"\n",
				px(p.n), py(value(p).Seconds()), color, html.EscapeString(name), p.n, ms(value(p)))
		}
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}
