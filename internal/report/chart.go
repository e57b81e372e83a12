package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"math"
	"reflect"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"crew/internal/lab"
)

// ErrChartKind is wrapped by a [*ChartError] when a chart's Kind is
// neither "bar" nor "line".
var ErrChartKind = errors.New("report: unknown chart kind")

// ErrChartColumns is wrapped by a [*ChartError] when a chart does not name
// its X or Y column.
var ErrChartColumns = errors.New("report: chart needs x and y columns")

// A ChartError reports a chart that could not be drawn. [HTML] still
// writes the rest of the page and says on it which chart is missing.
type ChartError struct {
	Experiment string // the result's Name
	Chart      string // the chart's Title, or the timeline's Mode
	Err        error
}

// Error returns the message, naming the experiment and chart.
func (e *ChartError) Error() string {
	return fmt.Sprintf("report: experiment %q, chart %q: %v", e.Experiment, e.Chart, e.Err)
}

// Unwrap returns the underlying error.
func (e *ChartError) Unwrap() error { return e.Err }

// drawn is one chart written to disk, or the reason it was not.
type drawn struct {
	title   string
	file    string // base name inside the report directory; empty if not drawn
	skipped int    // rows left out because a value could not be plotted
	empty   bool   // nothing was plottable, so no file was written
	err     error
}

// numeric converts a row value to a float for plotting. Numeric strings
// count, since a JSON or Python twin may report figures as text; NaN,
// infinities and values beyond maxPlot do not.
func numeric(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case nil, bool:
		return 0, false
	case string:
		var err error
		if f, err = strconv.ParseFloat(x, 64); err != nil {
			return 0, false
		}
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, false
		}
	default:
		rv := reflect.ValueOf(v)
		switch {
		case rv.CanInt():
			f = float64(rv.Int())
		case rv.CanUint():
			f = float64(rv.Uint())
		case rv.CanFloat():
			f = rv.Float()
		default:
			return 0, false
		}
	}
	if math.IsNaN(f) || math.Abs(f) > maxPlot {
		return 0, false
	}
	return f, true
}

// maxPlot bounds the values drawn: beyond it the span of an axis can
// overflow to infinity, where the library's tick search never ends.
const maxPlot = 1e300

// newPlot returns a plot in the sans-serif face, which reads better than
// the library's default serif at chart sizes.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	sans := func(f *font.Font, size vg.Length) {
		f.Typeface = "Liberation"
		f.Variant = "Sans"
		f.Size = size
	}
	p.Title.Text = title
	sans(&p.Title.TextStyle.Font, 13)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		sans(&a.Label.TextStyle.Font, 11)
		sans(&a.Tick.Label.Font, 10)
	}
	sans(&p.Legend.TextStyle.Font, 10)
	return p
}

// svg renders p at the given size, with a margin at the sides and a font
// fallback list.
//
// The library measures text with Liberation Sans but names only that face
// in the SVG; a viewer without it substitutes a wider default and long
// labels spill over the edge. Arial and Helvetica share Liberation Sans'
// metrics, so naming them keeps the layout exact on most systems, and the
// margin absorbs the difference where only a wider face is left.
func svg(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	c := vgsvg.New(w, h)
	const m = 0.4 * vg.Centimeter
	p.Draw(draw.Crop(draw.New(c), m, -m, 0, 0))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, err
	}
	return bytes.ReplaceAll(b.Bytes(), []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")), nil
}

const chartWidth = 16 * vg.Centimeter

// barChart draws one horizontal bar per row, labelled by the X column and
// as long as the Y value, in row order from the top. Bars run sideways so
// long mode names stay readable. Log scales are ignored: a bar's length
// from zero has no meaning on a log axis.
func barChart(res *lab.Result, ch lab.Chart) ([]byte, int, error) {
	return barChartIn(res, ch, plotutil.Color(0))
}

// barChartIn is barChart with bars of the given colour.
func barChartIn(res *lab.Result, ch lab.Chart, fill color.Color) ([]byte, int, error) {
	var labels, texts []string
	var values plotter.Values
	skipped := 0
	for _, row := range res.Rows {
		if _, in := row[ch.Y]; !in {
			continue // a row without the column is not part of this chart
		}
		y, ok := numeric(row[ch.Y])
		if !ok {
			skipped++
			continue
		}
		labels = append(labels, oneLine(formatValue(row[ch.X]).Text))
		// The row's own value, so an integer count is not shown as a float.
		texts = append(texts, formatValue(row[ch.Y]).Text)
		values = append(values, y)
	}
	numberRepeats(labels)
	if len(values) == 0 {
		return nil, skipped, nil
	}
	// NominalY puts the first name at the bottom; reverse so the chart
	// reads top to bottom like the table.
	slices.Reverse(labels)
	slices.Reverse(values)
	slices.Reverse(texts)

	p := newPlot(ch.Title, cmp.Or(ch.YLabel, ch.Y), "")
	bars, err := plotter.NewBarChart(values, 0.6*vg.Centimeter)
	if err != nil {
		return nil, skipped, err
	}
	bars.Horizontal = true
	bars.Color = fill
	bars.LineStyle.Width = 0
	p.Add(bars)
	p.NominalY(labels...)
	// An invisible tick keeps the labels off the bars.
	p.Y.Tick.Length = vg.Points(5)

	p.X.Tick.Marker = numberTicks{}
	xys := make(plotter.XYs, len(values))
	lo, hi := 0.0, 0.0
	for i, v := range values {
		xys[i] = plotter.XY{X: max(v, 0), Y: float64(i)}
		lo, hi = min(lo, v), max(hi, v)
	}
	vals, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
	if err != nil {
		return nil, skipped, err
	}
	for i := range vals.TextStyle {
		vals.TextStyle[i].Font.Typeface = "Liberation"
		vals.TextStyle[i].Font.Variant = "Sans"
		vals.TextStyle[i].Font.Size = 9
		vals.TextStyle[i].YAlign = -0.5
	}
	vals.Offset = vg.Point{X: vg.Points(3)}
	p.Add(vals)
	// Leave room right of the longest bar for its value label.
	if hi == lo {
		hi = lo + 1
	}
	p.X.Min, p.X.Max = lo, hi+(hi-lo)*0.18
	p.Y.Min, p.Y.Max = -0.6, float64(len(values))-0.4

	h := vg.Length(len(values))*0.9*vg.Centimeter + 3*vg.Centimeter
	out, err := svg(p, chartWidth, max(h, 6*vg.Centimeter))
	return out, skipped, err
}

// lineChart draws one line per distinct Series value with numeric X and
// Y, sorted by X. Points that are not numbers, or not positive on a log
// axis, are skipped and counted. A speed-up chart of a result with a
// measured ceiling draws the ceiling as a dashed level line across the
// chart instead of its row's single point, which a reader would miss.
func lineChart(res *lab.Result, ch lab.Chart) ([]byte, int, error) {
	ceiling := ceilingLevel(res, ch)
	type series struct {
		name string
		xys  plotter.XYs
	}
	var all []*series
	byName := map[string]*series{}
	skipped := 0
	var xs, ys []float64
	for _, row := range res.Rows {
		_, inx := row[ch.X]
		_, iny := row[ch.Y]
		if !inx || !iny {
			continue // a row without the columns is not part of this chart
		}
		if ceiling > 0 && row["mode"] == lab.CeilingMode {
			continue // drawn as the level line
		}
		x, okx := numeric(row[ch.X])
		y, oky := numeric(row[ch.Y])
		if !okx || !oky || (ch.LogX && x <= 0) || (ch.LogY && y <= 0) {
			skipped++
			continue
		}
		name := ch.Y
		if ch.Series != "" {
			name = cmp.Or(oneLine(formatValue(row[ch.Series]).Text), "(none)")
		}
		s := byName[name]
		if s == nil {
			s = &series{name: name}
			byName[name] = s
			all = append(all, s)
		}
		s.xys = append(s.xys, plotter.XY{X: x, Y: y})
		xs, ys = append(xs, x), append(ys, y)
	}
	if len(all) == 0 {
		return nil, skipped, nil
	}

	p := newPlot(ch.Title, cmp.Or(ch.XLabel, ch.X), cmp.Or(ch.YLabel, ch.Y))
	p.Add(plotter.NewGrid())
	for i, s := range all {
		slices.SortStableFunc(s.xys, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		line, points, err := plotter.NewLinePoints(s.xys)
		if err != nil {
			return nil, skipped, err
		}
		line.Color = seriesColor(i)
		line.Width = vg.Points(1.5)
		line.Dashes = plotutil.Dashes(i)
		points.Color = seriesColor(i)
		points.Shape = plotutil.Shape(i)
		points.Radius = vg.Points(3)
		p.Add(line, points)
		if ch.Series != "" {
			p.Legend.Add(s.name, line, points)
		}
	}
	var names []string
	if ch.Series != "" {
		for _, s := range all {
			names = append(names, s.name)
		}
	}
	if ceiling > 0 {
		lo, hi := slices.Min(xs), slices.Max(xs)
		level, err := plotter.NewLine(plotter.XYs{{X: lo, Y: ceiling}, {X: hi, Y: ceiling}})
		if err != nil {
			return nil, skipped, err
		}
		level.Color = color.Gray{Y: 0x55}
		level.Width = vg.Points(1.5)
		level.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		p.Add(level)
		name := fmt.Sprintf("ceiling %.2fx (pure loop, %d threads)", ceiling, res.Ceiling.Threads)
		p.Legend.Add(name, level)
		names = append(names, name)
		ys = append(ys, ceiling)
	}
	setScale(&p.X, xs, ch.LogX)
	setScale(&p.Y, ys, ch.LogY)
	if !ch.LogX {
		p.X.Tick.Marker = numberTicks{}
	}
	if !ch.LogY {
		p.Y.Tick.Marker = numberTicks{}
	}
	out, err := svgWithLegend(p, names, chartWidth, 10*vg.Centimeter)
	return out, skipped, err
}

// ceilingLevel is the level at which a line chart draws the result's
// ceiling: its speed-up, when the chart plots speed-ups on a linear axis
// and the ceiling was measured; 0 for no line.
func ceilingLevel(res *lab.Result, ch lab.Chart) float64 {
	if res.Ceiling == nil || res.Ceiling.Samples == 0 || res.Ceiling.Speedup <= 0 || ch.Y != "speedup" || ch.LogY {
		return 0
	}
	return res.Ceiling.Speedup
}

// svgWithLegend renders p with its legend in a column right of the plot
// rather than over it, where it would hide lines that run through the
// corner it sits in.
func svgWithLegend(p *plot.Plot, names []string, w, h vg.Length) ([]byte, error) {
	if len(names) == 0 {
		return svg(p, w, h)
	}
	var textW vg.Length
	for _, n := range names {
		textW = max(textW, p.Legend.TextStyle.Width(n))
	}
	legendW := textW + p.Legend.ThumbnailWidth + 2*p.Legend.Padding + vg.Points(12)
	legend := p.Legend
	legend.Top, legend.Left = true, true
	legend.YOffs = -p.Title.TextStyle.Height(p.Title.Text) - 2*p.Title.Padding
	p.Legend = plot.NewLegend() // the plot itself draws none
	c := vgsvg.New(w+legendW, h)
	const m = 0.4 * vg.Centimeter
	whole := draw.New(c)
	// The plot paints only its own area; the legend column needs a ground
	// too, or its black text vanishes on a dark viewer.
	whole.FillPolygon(p.BackgroundColor, whole.ClipPolygonXY([]vg.Point{
		whole.Min, {X: whole.Max.X, Y: whole.Min.Y}, whole.Max, {X: whole.Min.X, Y: whole.Max.Y}}))
	dc := draw.Crop(whole, m, -m, 0, 0)
	p.Draw(draw.Crop(dc, 0, -legendW, 0, 0))
	legend.Draw(draw.Crop(dc, w-m, 0, 0, 0))
	p.Legend = legend
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, err
	}
	return bytes.ReplaceAll(b.Bytes(), []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")), nil
}

// palette holds ten colours far enough apart to tell lines apart (the
// Tableau 10 set); dash patterns vary alongside, for print and for readers
// who do not see every hue.
var palette = []color.RGBA{
	{0x4e, 0x79, 0xa7, 0xff}, {0xf2, 0x8e, 0x2b, 0xff}, {0x59, 0xa1, 0x4f, 0xff}, {0xe1, 0x57, 0x59, 0xff},
	{0xb0, 0x7a, 0xa1, 0xff}, {0x76, 0xb7, 0xb2, 0xff}, {0x9c, 0x75, 0x5f, 0xff}, {0xed, 0xc9, 0x48, 0xff},
	{0xff, 0x9d, 0xa7, 0xff}, {0x79, 0x70, 0x6e, 0xff},
}

func seriesColor(i int) color.Color { return palette[i%len(palette)] }

// numberRepeats appends " #1", " #2", ... to labels that occur more than
// once, so bars of repeated trials can be told apart.
func numberRepeats(labels []string) {
	count := map[string]int{}
	for _, l := range labels {
		count[l]++
	}
	seen := map[string]int{}
	for i, l := range labels {
		if count[l] > 1 {
			seen[l]++
			labels[i] = fmt.Sprintf("%s #%d", l, seen[l])
		}
	}
}

// numberTicks places ticks as the library does but labels them the way
// the tables print numbers: 2,500,000 rather than 2500000.00.
type numberTicks struct{}

// Ticks implements plot.Ticker.
func (numberTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i, t := range ticks {
		if t.Label == "" {
			continue
		}
		if t.Value == math.Trunc(t.Value) && math.Abs(t.Value) < 1e15 {
			ticks[i].Label = formatValue(int64(t.Value)).Text
		} else {
			ticks[i].Label = strconv.FormatFloat(t.Value, 'g', 4, 64)
		}
	}
	return ticks
}

// setScale makes an axis logarithmic when asked, and fixes its range when
// all points share one value: the library would widen it by ±1, which
// for a log axis can reach zero and fail.
func setScale(a *plot.Axis, vs []float64, log bool) {
	lo, hi := slices.Min(vs), slices.Max(vs)
	if log {
		a.Scale = plot.LogScale{}
		a.Tick.Marker = logTicks{}
		// Whole decades: every end of the axis gets a labelled tick, and a
		// single value still gets a range that stays above zero.
		a.Min = math.Pow10(int(math.Floor(math.Log10(lo))))
		a.Max = math.Pow10(int(math.Ceil(math.Log10(hi))))
		if a.Max <= a.Min {
			a.Min, a.Max = a.Min/10, a.Max*10
		}
		return
	}
	if lo == hi {
		pad := math.Max(math.Abs(lo)*0.1, 1)
		a.Min, a.Max = lo-pad, hi+pad
	}
}

// logTicks labels every power of ten that the range touches, including the
// one below the smallest value, which the library's LogTicks leaves out
// for values under 1.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	if lo <= 0 || hi <= 0 || hi < lo {
		return ticks
	}
	first, last := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	for e := first; e <= last; e++ {
		major := math.Pow10(e)
		if major >= lo && major <= hi {
			ticks = append(ticks, plot.Tick{Value: major, Label: strconv.FormatFloat(major, 'g', -1, 64)})
		}
		for i := 2; i < 10 && e < last; i++ {
			if v := major * float64(i); v >= lo && v <= hi {
				ticks = append(ticks, plot.Tick{Value: v})
			}
		}
	}
	return ticks
}
