package report

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"crew/internal/lab"
)

// timeRange returns the x range that every timeline of one result shares,
// so modes can be compared at a glance: from zero (or the earliest start,
// if earlier) to the latest end.
func timeRange(tls []lab.Timeline) (lo, hi float64) {
	for _, tl := range tls {
		for _, s := range tl.Spans {
			if validSpan(s) {
				lo, hi = min(lo, s.Start), max(hi, s.End)
			}
		}
	}
	if hi <= lo {
		hi = lo + 1
	}
	return lo, hi
}

func validSpan(s lab.Span) bool {
	ok := func(f float64) bool { return !math.IsNaN(f) && math.Abs(f) <= maxPlot }
	return ok(s.Start) && ok(s.End) && s.End >= s.Start
}

// lanes draws each span as a bar in its worker's lane. Lane i is centred
// on y = i, worker ids sorted from the top.
type lanes struct {
	workers []int        // worker id of each lane, top lane last
	spans   [][]lab.Span // spans of each lane
}

// Plot implements plot.Plotter.
func (l *lanes) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for i, spans := range l.spans {
		base := plotutil.Color(i % len(plotutil.DefaultColors))
		// Alternate two shades in a lane so back-to-back spans stay
		// distinguishable without outlines, which would swamp short spans.
		shades := [2]color.Color{base, lighten(base)}
		y0, y1 := trY(float64(i)-0.35), trY(float64(i)+0.35)
		for j, s := range spans {
			x0, x1 := trX(s.Start), trX(s.End)
			if x1-x0 < 0.3 {
				// Keep very short spans visible as a hairline.
				x1 = x0 + 0.3
			}
			c.FillPolygon(shades[j%2], c.ClipPolygonXY([]vg.Point{
				{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1},
			}))
		}
	}
}

// DataRange implements plot.DataRanger; the x range is set by the caller.
func (l *lanes) DataRange() (xmin, xmax, ymin, ymax float64) {
	return math.Inf(1), math.Inf(-1), -0.6, float64(len(l.workers)) - 0.4
}

func lighten(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	mix := func(v uint32) uint8 { return uint8((v>>8 + 255) / 2) }
	return color.RGBA{R: mix(r), G: mix(g), B: mix(b), A: 255}
}

// timelineChart draws one mode's spans with one lane per worker over the
// shared x range [lo, hi]. Invalid spans (NaN, end before start) are
// skipped and counted.
func timelineChart(res *lab.Result, tl lab.Timeline, lo, hi float64) ([]byte, int, error) {
	byWorker := map[int][]lab.Span{}
	skipped := 0
	for _, s := range tl.Spans {
		if !validSpan(s) {
			skipped++
			continue
		}
		byWorker[s.Worker] = append(byWorker[s.Worker], s)
	}
	if len(byWorker) == 0 {
		return nil, skipped, nil
	}
	l := &lanes{}
	for w := range byWorker {
		l.workers = append(l.workers, w)
	}
	// Worker 0 on top, as people read a list.
	slices.Sort(l.workers)
	slices.Reverse(l.workers)
	for _, w := range l.workers {
		spans := byWorker[w]
		slices.SortFunc(spans, func(a, b lab.Span) int { return cmp.Compare(a.Start, b.Start) })
		l.spans = append(l.spans, spans)
	}

	p := newPlot(fmt.Sprintf("%s: %s", oneLine(res.Name), oneLine(tl.Mode)), "seconds since start", "worker")
	p.X.Min, p.X.Max = lo, hi
	p.Y.Min, p.Y.Max = -0.6, float64(len(l.workers))-0.4
	p.Y.Tick.Marker = laneTicks(l.workers)
	p.Y.Tick.Length = vg.Points(5)
	p.Y.Tick.LineStyle.Width = 0
	p.Y.Width = 0
	grid := plotter.NewGrid()
	grid.Horizontal.Width = 0
	p.Add(grid, l)

	// Lanes shrink as workers grow, down to a height that stays visible;
	// beyond that the chart grows instead.
	n := vg.Length(len(l.workers))
	h := max(min(n*0.8*vg.Centimeter, 14*vg.Centimeter), n*1.5) + 3*vg.Centimeter
	out, err := svg(p, chartWidth, max(h, 5*vg.Centimeter))
	return out, skipped, err
}

// laneTicks labels lanes by worker id, thinning the labels when there are
// too many lanes for every label to fit.
func laneTicks(workers []int) plot.ConstantTicks {
	step := max(1, (len(workers)+15)/16)
	var ticks []plot.Tick
	for i, w := range workers {
		label := ""
		if (len(workers)-1-i)%step == 0 {
			label = fmt.Sprint(w)
		}
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: label})
	}
	return ticks
}
