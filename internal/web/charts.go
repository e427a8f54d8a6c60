package web

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// Charts are small SVG documents drawn here and inlined in the page: no
// script, no style attribute (colours come from classes in app.css, so they
// follow the light or dark theme), a role="img" with a label for screen
// readers, and a <title> on each mark for a tooltip. Every chart sits next
// to a table or text that gives the same numbers.

func esc(s string) string { return html.EscapeString(s) }

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// sparkline draws values (NaN: no data for that period) as a line.
func sparkline(values []float64, label string) template.HTML {
	const w, h, pad = 120.0, 28.0, 3.0
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		if !math.IsNaN(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`, int(w), int(h), int(w), int(h), esc(label))
	if math.IsInf(lo, 1) || len(values) == 0 {
		fmt.Fprintf(&b, `<line class="spark-none" x1="0" y1="%s" x2="%d" y2="%s"/></svg>`, f1(h/2), int(w), f1(h/2))
		return template.HTML(b.String())
	}
	if hi == lo {
		hi = lo + 1
		lo -= 1
	}
	step := (w - 2*pad) / math.Max(1, float64(len(values)-1))
	x := func(i int) float64 { return pad + float64(i)*step }
	y := func(v float64) float64 { return h - pad - (v-lo)/(hi-lo)*(h-2*pad) }
	var pts []string
	flush := func() {
		if len(pts) > 1 {
			fmt.Fprintf(&b, `<polyline class="spark-line" points="%s"/>`, strings.Join(pts, " "))
		}
		pts = nil
	}
	last := -1
	for i, v := range values {
		if math.IsNaN(v) {
			flush()
			continue
		}
		pts = append(pts, f1(x(i))+","+f1(y(v)))
		last = i
	}
	flush()
	if last >= 0 {
		fmt.Fprintf(&b, `<circle class="spark-dot" cx="%s" cy="%s" r="2.5"/>`, f1(x(last)), f1(y(values[last])))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// segment is one part of a stacked bar.
type segment struct {
	Label string
	Value float64
	Class string // colour class; "" picks seg-<i>
	Href  string
}

// stackedBar draws segments side by side in proportion to their values.
func stackedBar(segs []segment, label string, height int) template.HTML {
	const w = 300.0
	total := 0.0
	for _, s := range segs {
		total += math.Max(0, s.Value)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="bar" viewBox="0 0 %d %d" preserveAspectRatio="none" height="%d" role="img" aria-label="%s">`, int(w), height, height, esc(label))
	if total <= 0 {
		fmt.Fprintf(&b, `<rect class="bar-empty" x="0" y="0" width="%d" height="%d"/></svg>`, int(w), height)
		return template.HTML(b.String())
	}
	x := 0.0
	for i, s := range segs {
		if s.Value <= 0 {
			continue
		}
		sw := s.Value / total * w
		cls := s.Class
		if cls == "" {
			cls = "seg-" + strconv.Itoa(i%8)
		}
		mark := fmt.Sprintf(`<rect class="%s" x="%s" y="0" width="%s" height="%d"><title>%s</title></rect>`, cls, f1(x), f1(sw), height, esc(s.Label))
		if s.Href != "" {
			mark = `<a href="` + esc(s.Href) + `">` + mark + `</a>`
		}
		b.WriteString(mark)
		x += sw
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// bars draws a vertical bar per value, labelled below.
func bars(labels []string, values []int, label string) template.HTML {
	const w, h, top, bottom = 320.0, 110.0, 14.0, 18.0
	hi := 1
	for _, v := range values {
		hi = max(hi, v)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="hist" viewBox="0 0 %d %d" role="img" aria-label="%s">`, int(w), int(h), esc(label))
	n := float64(len(values))
	bw := w / math.Max(1, n)
	for i, v := range values {
		bh := float64(v) / float64(hi) * (h - top - bottom)
		x := float64(i)*bw + 4
		fmt.Fprintf(&b, `<rect class="hist-bar" x="%s" y="%s" width="%s" height="%s"><title>%s: %d</title></rect>`,
			f1(x), f1(h-bottom-bh), f1(bw-8), f1(bh), esc(labels[i]), v)
		fmt.Fprintf(&b, `<text class="hist-n" x="%s" y="%s">%d</text>`, f1(x+(bw-8)/2), f1(h-bottom-bh-3), v)
		fmt.Fprintf(&b, `<text class="hist-label" x="%s" y="%s">%s</text>`, f1(x+(bw-8)/2), f1(h-4), esc(labels[i]))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// mark is one point on a timeline.
type mark struct {
	Lane  int
	At    time.Time
	Class string // pt-ok, pt-fail, pt-rollback, pt-incident
	Title string
	Href  string
}

// timeline draws marks on one lane per name between start and end, with
// date ticks.
func timeline(lanes []string, start, end time.Time, marks []mark, label string) template.HTML {
	const w, left, right, laneH, top = 760.0, 90.0, 10.0, 34.0, 10.0
	h := top + laneH*float64(len(lanes)) + 22
	span := end.Sub(start).Seconds()
	if span <= 0 {
		span = 1
	}
	x := func(t time.Time) float64 { return left + t.Sub(start).Seconds()/span*(w-left-right) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="timeline" viewBox="0 0 %d %s" role="img" aria-label="%s">`, int(w), f1(h), esc(label))
	for i, l := range lanes {
		y := top + laneH*float64(i) + laneH/2
		fmt.Fprintf(&b, `<line class="lane" x1="%s" y1="%s" x2="%s" y2="%s"/>`, f1(left), f1(y), f1(w-right), f1(y))
		fmt.Fprintf(&b, `<text class="lane-label" x="%s" y="%s">%s</text>`, f1(left-8), f1(y+4), esc(l))
	}
	// Ticks: about six dates across.
	axisY := top + laneH*float64(len(lanes))
	days := math.Max(1, math.Ceil(span/86400/6))
	first := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1)
	for t := first; t.Before(end); t = t.AddDate(0, 0, int(days)) {
		fmt.Fprintf(&b, `<line class="tick" x1="%s" y1="%s" x2="%s" y2="%s"/>`, f1(x(t)), f1(top), f1(x(t)), f1(axisY))
		fmt.Fprintf(&b, `<text class="tick-label" x="%s" y="%s">%s</text>`, f1(x(t)), f1(axisY+14), t.Format("01-02"))
	}
	for _, m := range marks {
		if m.At.Before(start) || m.At.After(end) {
			continue
		}
		cx, cy := x(m.At), top+laneH*float64(m.Lane)+laneH/2
		var shape string
		if m.Class == "pt-incident" {
			shape = fmt.Sprintf(`<path class="%s" d="M%s %sl6 10h-12z"><title>%s</title></path>`, m.Class, f1(cx), f1(cy-14), esc(m.Title))
		} else {
			shape = fmt.Sprintf(`<circle class="%s" cx="%s" cy="%s" r="5"><title>%s</title></circle>`, m.Class, f1(cx), f1(cy), esc(m.Title))
		}
		if m.Href != "" {
			shape = `<a href="` + esc(m.Href) + `">` + shape + `</a>`
		}
		b.WriteString(shape)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
