package report_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"crew/internal/lab"
	"crew/internal/report"
)

var sampleDir = flag.String("sample", "", "also write the sample HTML report into this directory, to look at")

// checkPage parses index.html in dir, checks each referenced image file is
// a well-formed SVG, and returns the page text and image names.
func checkPage(t *testing.T, dir string) (string, []string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	// encoding/xml in its lenient HTML mode is a parser the standard
	// library has; it still rejects unbalanced or garbled markup.
	dec := xml.NewDecoder(bytes.NewReader(raw))
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity
	var imgs []string
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("index.html does not parse: %v", err)
		}
		switch n := tok.(type) {
		case xml.StartElement:
			depth++
			if n.Name.Local == "script" || n.Name.Local == "link" {
				t.Errorf("page has a <%s> element", n.Name.Local)
			}
			for _, a := range n.Attr {
				switch {
				case n.Name.Local == "img" && a.Name.Local == "src":
					imgs = append(imgs, a.Value)
				case (a.Name.Local == "src" || a.Name.Local == "href") && !strings.HasPrefix(a.Value, "#"):
					t.Errorf("page links to %q: the page must be self-contained", a.Value)
				}
			}
		case xml.EndElement:
			depth--
		}
	}
	if depth != 0 {
		t.Errorf("index.html has %d unclosed elements", depth)
	}
	for _, img := range imgs {
		if filepath.Base(img) != img || !strings.HasSuffix(img, ".svg") {
			t.Errorf("image %q is not a relative .svg name", img)
			continue
		}
		checkSVG(t, filepath.Join(dir, img))
	}
	return string(raw), imgs
}

func checkSVG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Errorf("%s is not well-formed XML: %v", path, err)
			return
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("%s has root element %q, want svg", path, root)
	}
}

func TestHTMLSample(t *testing.T) {
	dir := t.TempDir()
	if *sampleDir != "" {
		dir = *sampleDir
	}
	r := sampleReport()
	if err := report.HTML(dir, r); err != nil {
		t.Fatal(err)
	}
	page, imgs := checkPage(t, dir)
	// One image per chart and per timeline.
	if want := 1 + 2 + 1; len(imgs) != want {
		t.Errorf("page shows %d images %v, want %d", len(imgs), imgs, want)
	}
	for _, want := range []string{
		`id="cpubound"`, `id="scaling"`,
		r.Experiments[0].Claim, r.Experiments[0].Verdict,
		"Goroutines scale to 100,000 concurrent sleepers &lt;cheaply&gt; &amp; quickly.",
		`class="verdict holds"`, `class="verdict differs"`,
		`<td class="num">1,000,000</td>`, "workload: sum of squares",
		"1 value(s) left out", // the NaN point on the line chart
		"2 CPUs, GOMAXPROCS 2",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	// The bar chart must carry its labels as text, so the SVG is searchable.
	bar, err := os.ReadFile(filepath.Join(dir, "cpubound-chart1.svg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"N threads + GIL", "Wall time by mode", "2.100"} {
		if !bytes.Contains(bar, []byte(want)) {
			t.Errorf("bar chart lacks text %q", want)
		}
	}
	// Both timelines of cpubound share the x range, so they share ticks.
	t1, _ := os.ReadFile(filepath.Join(dir, "cpubound-timeline1.svg"))
	t2, _ := os.ReadFile(filepath.Join(dir, "cpubound-timeline2.svg"))
	if a, b := xTicks(t1), xTicks(t2); a == "" || a != b {
		t.Errorf("timelines have different x ticks: %q vs %q", a, b)
	}
}

// xTicks extracts the numeric tick labels of an SVG chart, in order.
func xTicks(svg []byte) string {
	var ticks []string
	for _, m := range regexp.MustCompile(`>(-?[0-9]+(?:\.[0-9]+)?)</text>`).FindAllSubmatch(svg, -1) {
		ticks = append(ticks, string(m[1]))
	}
	return strings.Join(ticks, " ")
}

func TestHTMLEdgeCases(t *testing.T) {
	row := func(kv ...any) lab.Row {
		r := lab.Row{}
		for i := 0; i < len(kv); i += 2 {
			r[kv[i].(string)] = kv[i+1]
		}
		return r
	}
	bar := lab.Chart{Title: "bars", Kind: "bar", X: "mode", Y: "s"}
	line := lab.Chart{Title: "lines", Kind: "line", X: "n", Y: "s", Series: "kind"}
	logLine := line
	logLine.LogX, logLine.LogY = true, true
	tests := []struct {
		name     string
		res      *lab.Result
		images   int
		page     []string // substrings the page must contain
		chartErr error    // what HTML returns, if anything
	}{
		{"empty rows", &lab.Result{Name: "e", Charts: []lab.Chart{bar, line}}, 0, []string{"nothing to plot", "No rows."}, nil},
		{"single row bar", &lab.Result{Name: "one", Columns: []string{"mode", "s"}, Rows: []lab.Row{row("mode", "only", "s", 0.0)}, Charts: []lab.Chart{bar}}, 1, nil, nil},
		{"single point line", &lab.Result{Name: "pt", Rows: []lab.Row{row("n", 10, "s", 1.5)}, Charts: []lab.Chart{line}}, 1, nil, nil},
		{"single point log line", &lab.Result{Name: "lpt", Rows: []lab.Row{row("n", 1, "s", 1)}, Charts: []lab.Chart{logLine}}, 1, nil, nil},
		{"non-numeric values", &lab.Result{Name: "nn", Rows: []lab.Row{
			row("mode", "a", "n", "ten", "s", "slow"), row("mode", "b", "n", 20, "s", true),
			row("mode", "c", "n", "30", "s", "2.5"), row("mode", "d", "n", 40, "s", math.Inf(1)),
			row("mode", "e", "n", 50, "s", 3),
		}, Charts: []lab.Chart{bar, line}}, 2, []string{"3 value(s) left out"}, nil},
		{"log axes with zeros", &lab.Result{Name: "log", Rows: []lab.Row{
			row("kind", "a", "n", 0, "s", 1.0), row("kind", "a", "n", 10, "s", 0.0),
			row("kind", "a", "n", 100, "s", 2.0), row("kind", "b", "n", -1, "s", 3.0),
			row("kind", "b", "n", 1000, "s", 4.0),
		}, Charts: []lab.Chart{logLine}}, 1, []string{"3 value(s) left out"}, nil},
		{"rows without the columns", &lab.Result{Name: "part", Rows: []lab.Row{
			row("mode", "a", "n", 1, "s", 1.0), row("mode", "b", "n", 2, "s", 2.0), row("mode", "ceiling"), row("mode", "c", "s", 3.0),
		}, Charts: []lab.Chart{bar, line}}, 2, nil, nil},
		{"log axes all zero", &lab.Result{Name: "log0", Rows: []lab.Row{row("n", 0, "s", 0)}, Charts: []lab.Chart{logLine}}, 0, []string{"nothing to plot"}, nil},
		{"negative and all-equal bars", &lab.Result{Name: "neg", Rows: []lab.Row{row("mode", "x", "s", -2), row("mode", "y", "s", -2)}, Charts: []lab.Chart{bar}}, 1, nil, nil},
		{"unknown kind", &lab.Result{Name: "pie", Rows: []lab.Row{row("mode", "a", "s", 1)}, Charts: []lab.Chart{{Title: "pie", Kind: "pie", X: "mode", Y: "s"}, bar}}, 1, []string{"not drawn"}, report.ErrChartKind},
		{"missing columns", &lab.Result{Name: "nocol", Charts: []lab.Chart{{Kind: "bar"}}}, 0, []string{"not drawn"}, report.ErrChartColumns},
		{"timelines with bad spans", &lab.Result{Name: "tl", Timelines: []lab.Timeline{
			{Mode: "empty"},
			{Mode: "bad", Spans: []lab.Span{{Worker: 3, Start: math.NaN(), End: 1}, {Worker: 1, Start: 2, End: 1}}},
			{Mode: "one", Spans: []lab.Span{{Worker: 7, Start: 0, End: 0}}},
			{Mode: "many", Spans: manySpans(40, 30)},
		}}, 2, []string{"nothing to plot", "2 value(s) left out"}, nil},
		{"huge values", &lab.Result{Name: "huge", Rows: []lab.Row{
			row("mode", "a", "n", -1e308, "s", 1e308), row("mode", "b", "n", 1e300, "s", -1e300),
			row("mode", "c", "n", 1.0, "s", 5e-324),
		}, Charts: []lab.Chart{bar, line}, Timelines: []lab.Timeline{{Mode: "wide", Spans: []lab.Span{
			{Worker: 0, Start: -1e308, End: 1e308}, {Worker: 1, Start: -1e300, End: 1e300},
		}}}}, 3, []string{"1 value(s) left out"}, nil},
		{"odd names", &lab.Result{Name: "../../etc <b>", Rows: []lab.Row{row("mode", "<script>", "s", 1)}, Charts: []lab.Chart{bar}}, 1, []string{"&lt;script&gt;"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if *sampleDir != "" {
				dir = filepath.Join(*sampleDir, "edge", strings.ReplaceAll(tt.name, " ", "-"))
			}
			err := report.HTML(dir, &lab.Report{Experiments: []*lab.Result{tt.res, nil}})
			if tt.chartErr == nil && err != nil {
				t.Fatalf("HTML: %v", err)
			}
			if tt.chartErr != nil {
				var ce *report.ChartError
				if !errors.Is(err, tt.chartErr) || !errors.As(err, &ce) || ce.Experiment != tt.res.Name {
					t.Fatalf("HTML = %v, want a *ChartError wrapping %v", err, tt.chartErr)
				}
			}
			page, imgs := checkPage(t, dir)
			if len(imgs) != tt.images {
				t.Errorf("page shows %d images %v, want %d", len(imgs), imgs, tt.images)
			}
			for _, want := range tt.page {
				if !strings.Contains(page, want) {
					t.Errorf("index.html lacks %q", want)
				}
			}
			if strings.Contains(page, "<script>") {
				t.Error("page contains an unescaped <script>")
			}
			// A row without a chart's columns is not part of the chart, so
			// nothing was left out of it.
			if tt.name == "rows without the columns" && strings.Contains(page, "left out") {
				t.Error("page says values were left out of charts whose columns the rows lack")
			}
		})
	}
}

func manySpans(workers, per int) []lab.Span {
	var s []lab.Span
	for w := range workers {
		for i := range per {
			s = append(s, lab.Span{Worker: w, Start: float64(i) * 0.01, End: float64(i)*0.01 + 0.008})
		}
	}
	return s
}

func TestHTMLBadDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := report.HTML(filepath.Join(file, "sub"), sampleReport()); err == nil {
		t.Error("HTML into a path under a regular file succeeded")
	}
}

// TestHTMLReusedDir writes a report into a directory that already holds an
// older run's charts and files of the user's own: the old charts go, the
// rest stays.
func TestHTMLReusedDir(t *testing.T) {
	dir := t.TempDir()
	files := map[string]bool{ // name: whether HTML may remove it
		"gone-chart3.svg":        true,
		"cpubound-timeline9.svg": true,
		"mine.svg":               false,
		"notes-chart.svg":        false,
		"cpubound-chart1.png":    false,
		"README":                 false,
	}
	for name := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub-chart1.svg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := report.HTML(dir, sampleReport()); err != nil {
		t.Fatal(err)
	}
	for name, removable := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if exists := err == nil; exists == removable {
			t.Errorf("%s: exists = %v after HTML, want %v", name, exists, !removable)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sub-chart1.svg")); err != nil {
		t.Errorf("a directory named like a chart was touched: %v", err)
	}
	checkPage(t, dir)
}

// TestBarChartLabels checks that repeated row labels are numbered, integer
// figures are printed as integers, and axis ticks use separators.
func TestBarChartLabels(t *testing.T) {
	r := &lab.Report{Experiments: []*lab.Result{{
		Name:    "race",
		Columns: []string{"mode", "lost"},
		Rows:    []lab.Row{{"mode": "go x++", "lost": int64(4249815)}, {"mode": "go x++", "lost": int64(2500000)}, {"mode": "other", "lost": int64(7)}},
		Charts:  []lab.Chart{{Title: "lost", Kind: "bar", X: "mode", Y: "lost"}},
	}}}
	dir := t.TempDir()
	if err := report.HTML(dir, r); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "race-chart1.svg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{">go x++ #1<", ">go x++ #2<", ">other<", ">4,249,815<", ">5,000,000<"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("chart lacks %q; texts: %s", want, regexp.MustCompile(`>[^<>\s][^<>]*<`).FindAll(svg, -1))
		}
	}
	if bytes.Contains(svg, []byte("4,249,815.000")) || bytes.Contains(svg, []byte("000000.00")) {
		t.Errorf("chart prints an integer as a float")
	}
}

// TestLineChartCeiling checks that a speed-up line chart draws the
// measured ceiling as a labelled level line rather than as its row's lone
// point, and that charts of anything else do not.
func TestLineChartCeiling(t *testing.T) {
	rows := []lab.Row{
		{"mode": "threads", "workers": 1, "speedup": 1.0, "seconds": 1.0, "series": "threads"},
		{"mode": "threads", "workers": 4, "speedup": 1.8, "seconds": 0.55, "series": "threads"},
		{"mode": lab.CeilingMode, "workers": 4, "speedup": 1.9, "seconds": 0.5},
	}
	for _, c := range []struct {
		name    string
		ceiling *lab.Ceiling
		chart   lab.Chart
		line    bool
	}{
		{"speed-up", &lab.Ceiling{Threads: 4, One: 1, Many: 0.526, Speedup: 1.9, Samples: 3},
			lab.Chart{Kind: "line", X: "workers", Y: "speedup", Series: "series"}, true},
		{"no series", &lab.Ceiling{Threads: 4, One: 1, Many: 0.526, Speedup: 1.9, Samples: 3},
			lab.Chart{Kind: "line", X: "workers", Y: "speedup"}, true},
		{"not measured", &lab.Ceiling{Threads: 4}, lab.Chart{Kind: "line", X: "workers", Y: "speedup", Series: "series"}, false},
		{"no ceiling", nil, lab.Chart{Kind: "line", X: "workers", Y: "speedup", Series: "series"}, false},
		{"seconds", &lab.Ceiling{Threads: 4, One: 1, Many: 0.526, Speedup: 1.9, Samples: 3},
			lab.Chart{Kind: "line", X: "workers", Y: "seconds", Series: "series"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &lab.Report{Experiments: []*lab.Result{{Name: "cpu", Rows: rows, Ceiling: c.ceiling, Charts: []lab.Chart{c.chart}}}}
			dir := t.TempDir()
			if err := report.HTML(dir, r); err != nil {
				t.Fatal(err)
			}
			svg, err := os.ReadFile(filepath.Join(dir, "cpu-chart1.svg"))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(string(svg), ">ceiling 1.90x (pure loop, 4 threads)<"); got != c.line {
				t.Errorf("level line drawn = %v, want %v", got, c.line)
			}
			if c.line && c.chart.Series != "" && strings.Contains(string(svg), ">(none)<") {
				t.Error("the ceiling's row was drawn as a series of its own")
			}
		})
	}
}
