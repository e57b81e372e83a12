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
			if validSpan(s.Start, s.End) {
				lo, hi = min(lo, s.Start), max(hi, s.End)
			}
		}
	}
	if hi <= lo {
		hi = lo + 1
	}
	return lo, hi
}

func validSpan(start, end float64) bool {
	ok := func(f float64) bool { return !math.IsNaN(f) && math.Abs(f) <= maxPlot }
	return ok(start) && ok(end) && end >= start
}

// bar is one span of work in a lane: from start to end, in seconds.
type bar struct {
	start, end float64
	failed     bool
}

// lanes draws each span as a bar in its lane: a worker of a lab
// experiment, a job slot or cluster worker of a crew run. Lane i is
// centred on y = i, listed from the bottom.
type lanes struct {
	labels []string // each lane's name, top lane last
	bars   [][]bar  // each lane's bars, sorted by start
	// fill is a lane's colour; failed bars are drawn in failColor.
	fill func(lane int) color.Color
}

// failColor marks failed jobs: a red that stays apart from the blue of
// the run's lanes.
var failColor color.Color = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}

// Plot implements plot.Plotter.
func (l *lanes) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for i, bars := range l.bars {
		base := l.fill(i)
		// Alternate two shades in a lane so back-to-back spans stay
		// distinguishable without outlines, which would swamp short spans.
		shades := [2]color.Color{base, lighten(base)}
		y0, y1 := trY(float64(i)-0.35), trY(float64(i)+0.35)
		for j, s := range bars {
			x0, x1 := trX(s.start), trX(s.end)
			if x1-x0 < 0.3 {
				// Keep very short spans visible as a hairline.
				x1 = x0 + 0.3
			}
			fill := shades[j%2]
			if s.failed {
				fill = failColor
				// A failure must show however short it was.
				x1 = max(x1, x0+1.5)
			}
			c.FillPolygon(fill, c.ClipPolygonXY([]vg.Point{
				{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1},
			}))
		}
	}
}

// DataRange implements plot.DataRanger; the x range is set by the caller.
func (l *lanes) DataRange() (xmin, xmax, ymin, ymax float64) {
	return math.Inf(1), math.Inf(-1), -0.6, float64(len(l.labels)) - 0.4
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
	byWorker := map[int][]bar{}
	skipped := 0
	for _, s := range tl.Spans {
		if !validSpan(s.Start, s.End) {
			skipped++
			continue
		}
		byWorker[s.Worker] = append(byWorker[s.Worker], bar{start: s.Start, end: s.End})
	}
	if len(byWorker) == 0 {
		return nil, skipped, nil
	}
	workers := make([]int, 0, len(byWorker))
	for w := range byWorker {
		workers = append(workers, w)
	}
	// Worker 0 on top, as people read a list.
	slices.Sort(workers)
	slices.Reverse(workers)
	l := &lanes{fill: func(i int) color.Color { return plotutil.Color(i % len(plotutil.DefaultColors)) }}
	for _, w := range workers {
		l.labels = append(l.labels, fmt.Sprint(w))
		l.bars = append(l.bars, byWorker[w])
	}
	out, err := lanesChart(l, fmt.Sprintf("%s: %s", oneLine(res.Name), oneLine(tl.Mode)), "worker", lo, hi, chartWidth)
	return out, skipped, err
}

// lanesChart renders l over the x range [lo, hi] in seconds, each lane's
// bars sorted by start, width wide.
func lanesChart(l *lanes, title, laneName string, lo, hi float64, width vg.Length) ([]byte, error) {
	for _, bars := range l.bars {
		slices.SortFunc(bars, func(a, b bar) int { return cmp.Compare(a.start, b.start) })
	}
	p := newPlot(title, "seconds since start", laneName)
	p.X.Min, p.X.Max = lo, hi
	p.Y.Min, p.Y.Max = -0.6, float64(len(l.labels))-0.4
	p.Y.Tick.Marker = laneTicks(l.labels)
	p.Y.Tick.Length = vg.Points(5)
	p.Y.Tick.LineStyle.Width = 0
	p.Y.Width = 0
	grid := plotter.NewGrid()
	grid.Horizontal.Width = 0
	p.Add(grid, l)

	// Lanes shrink as they grow in number, down to a height that stays
	// visible; beyond that the chart grows instead.
	n := vg.Length(len(l.labels))
	h := max(min(n*0.8*vg.Centimeter, 14*vg.Centimeter), n*1.5) + 3*vg.Centimeter
	return svg(p, width, max(h, 5*vg.Centimeter))
}

// laneTicks labels lanes, thinning the labels when there are too many
// lanes for every label to fit.
func laneTicks(labels []string) plot.ConstantTicks {
	step := max(1, (len(labels)+15)/16)
	var ticks []plot.Tick
	for i, name := range labels {
		label := ""
		if (len(labels)-1-i)%step == 0 {
			label = name
		}
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: label})
	}
	return ticks
}
