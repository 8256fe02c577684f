package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strings"
)

// The chart, in the spirit of the L4Linux paper's Figure 6: each goskit
// figure as a slowdown normalized to native Linux on the same link
// (bandwidth: Linux/kit; round trip: kit/Linux), so a shorter bar is
// better and 1 is native speed.

// bar is one figure of the chart.
type bar struct {
	group string  // heading the bar is listed under
	label string  // the cell, "goskit(packet) -> Linux"
	value float64 // slowdown; NaN or <= 0 if not measured
}

// slowdowns are the chart's bars for the measured cells: every cell with a
// goskit end, against Linux->Linux on its link (the wire against Linux
// over loopback, its like).
func (b *bench) slowdowns(cells []cell) []bar {
	var bars []bar
	for _, c := range cells {
		if !isKit(c.from) && !isKit(c.to) {
			continue
		}
		base := baseName(c)
		if c.from == wireEnd {
			base = c.test + ":loopback->loopback"
		}
		var v float64
		switch c.test {
		case "ttcp":
			f := func(r runResult) float64 { return r.BitsPerSec }
			lin, _, _ := stats(b.series(base, f))
			k, _, _ := stats(b.series(c.name, f))
			v = lin / k
		case "rtcp":
			f := func(r runResult) float64 { return r.MedianUS }
			lin, _, _ := stats(b.series(base, f))
			k, _, _ := stats(b.series(c.name, f))
			v = k / lin
		}
		what := "ttcp bandwidth (Linux/goskit)"
		if c.test == "rtcp" {
			what = "rtcp round trip (goskit/Linux)"
		}
		where := "veth"
		if c.link != "" {
			where = rateLabel(c.link)
		}
		if c.from == wireEnd {
			where = "in-memory wire vs Linux loopback"
		}
		bars = append(bars, bar{group: what + ", " + where, label: string(c.from) + " -> " + string(c.to), value: v})
	}
	return bars
}

func isKit(e end) bool { return e == kit || e == kitBusy || e == tapEnd || e == wireEnd }

// svg is the chart of the measured cells.
func (b *bench) svg(cells []cell) []byte {
	return svgChart("goskit slowdown relative to native Linux (shorter is better; 1 = native)", b.slowdowns(cells))
}

// svgChart draws bars as horizontal bars under their groups' headings,
// with a line at 1 (native). Unmeasured figures get a label and no bar.
func svgChart(title string, bars []bar) []byte {
	const (
		width   = 820
		labelW  = 240 // left column: cell labels
		plotW   = 480
		rowH    = 20
		headH   = 24
		topPad  = 40
		barH    = 14
		maxFont = 13
	)
	scaleMax := 2.0
	for _, br := range bars {
		if ok(br.value) && br.value > scaleMax {
			scaleMax = math.Ceil(br.value)
		}
	}
	x := func(v float64) float64 { return labelW + v/scaleMax*plotW }

	var body bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&body, format, args...) }
	y := topPad
	group := ""
	for _, br := range bars {
		if br.group != group {
			group = br.group
			y += 6
			p(`<text x="8" y="%d" font-weight="bold">%s</text>`+"\n", y+headH-8, esc(group))
			y += headH
		}
		p(`<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW-8, y+barH-2, esc(br.label))
		if ok(br.value) {
			p(`<rect class="bar" x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %.2f</title></rect>`+"\n",
				labelW, y, x(br.value)-labelW, barH, color(br.value), esc(br.label), br.value)
			p(`<text x="%.1f" y="%d">%.2fx</text>`+"\n", x(br.value)+4, y+barH-2, br.value)
		} else {
			p(`<text x="%d" y="%d" fill="#888">not measured</text>`+"\n", labelW+4, y+barH-2)
		}
		y += rowH
	}
	height := y + 30
	var out bytes.Buffer
	fmt.Fprintf(&out, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="%d">`+"\n", width, height, width, height, maxFont)
	fmt.Fprintf(&out, `<rect x="0" y="0" width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&out, `<text x="8" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", esc(title))
	out.Write(body.Bytes())
	// Axis ticks at each whole slowdown, and the native line at 1.
	for v := 0.0; v <= scaleMax; v++ {
		stroke := "#ccc"
		if v == 1 {
			stroke = "#000"
		}
		fmt.Fprintf(&out, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="3,3"/>`+"\n", x(v), topPad, x(v), y, stroke)
		fmt.Fprintf(&out, `<text x="%.1f" y="%d" text-anchor="middle">%gx</text>`+"\n", x(v), y+16, v)
	}
	out.WriteString("</svg>\n")
	return out.Bytes()
}

func ok(v float64) bool { return v > 0 && !math.IsNaN(v) && !math.IsInf(v, 0) }

// color: green within 10% of native, amber within 1.5x, red beyond.
func color(v float64) string {
	switch {
	case v <= 1.1:
		return "#4a9a4a"
	case v <= 1.5:
		return "#d9a43a"
	}
	return "#c8553d"
}

func esc(s string) string {
	var sb strings.Builder
	xml.EscapeText(&sb, []byte(s))
	return sb.String()
}
