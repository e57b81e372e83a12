package report

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/plot/vg"

	"crew/internal/lab"
)

// A Run is what one crew run did, for [RunHTML]: its jobs, where and when
// each ran, and how it ended.
type Run struct {
	// Command is the command line as the user gave it.
	Command string
	// Start and End bound the run; a zero Start is taken from the jobs.
	Start, End time.Time
	// LaneName says what a lane of the timeline is: "job slot", or
	// "worker" when the jobs ran on a cluster.
	LaneName string
	// Slots is the number of job slots (-j), or 0 if not known.
	Slots int
	// Skipped counts the jobs a resumed run did not run again.
	Skipped int64
	// Jobs are the jobs that ran, in any order.
	Jobs []RunJob
}

// A RunJob is one job of a [Run].
type RunJob struct {
	Seq int64
	// Lane is the job slot ("3") or the worker's name it ran in. Jobs
	// that overlap in one lane (a worker running several at once) are
	// drawn in lanes of their own under that name.
	Lane    string
	Start   time.Time
	Runtime time.Duration
	// Failed is a non-zero exit status, a signal, or a job that could not
	// start; Exit and Signal say which.
	Failed       bool
	Exit, Signal int
	Command      string
}

// ErrNilRun is returned by [RunHTML] for a nil Run.
var ErrNilRun = errors.New("report: nil run")

// RunHTML writes a page about r to w: the totals (jobs, failures, wall
// time, run-time statistics, how busy the slots were), a timeline with one
// lane per job slot or worker and each job a bar from its start to its
// end, failures in red, the distribution of the jobs' run times, and a
// list of the failed jobs. The charts are the ones [HTML] draws for the
// lab, embedded in the page as SVG images: the page is one file with no
// scripts and no remote assets, so it opens offline and can be attached
// to a bug report.
//
// A chart that cannot be drawn does not stop the page: it says so in the
// chart's place, and RunHTML returns the error after writing the rest.
func RunHTML(w io.Writer, r *Run) error {
	if r == nil {
		return ErrNilRun
	}
	page := runPage{Command: r.Command, LaneName: cmp.Or(r.LaneName, "job slot")}
	start, end := runBounds(r)
	if !start.IsZero() {
		page.Started = start.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	page.Totals = runTotals(r, start, end)
	var chartErrs []error
	if len(r.Jobs) > 0 {
		l, lo, hi := runLanes(r, start, end)
		timeline := runFigure("Timeline: one lane per "+page.LaneName+", each job a bar from its start to its end; failed jobs in red",
			func() ([]byte, int, error) {
				// As wide as the page, where the lab's charts are narrower.
				out, err := lanesChart(l, "Jobs over time", page.LaneName, lo, hi, 25*vg.Centimeter)
				return out, 0, err
			})
		res, ch := runTimeHistogram(r)
		dist := runFigure("Distribution of the jobs' run times: how many jobs took how long",
			func() ([]byte, int, error) { return barChartIn(res, ch, palette[0]) })
		for _, f := range []figure{timeline, dist} {
			if f.Problem != "" {
				chartErrs = append(chartErrs, fmt.Errorf("report: %s: %s", f.Title, f.Problem))
			}
			page.Charts = append(page.Charts, f)
		}
	}
	page.Failed, page.MoreFailed = failedJobs(r, start, 50)
	var b bytes.Buffer
	if err := runTemplate.Execute(&b, page); err != nil {
		return fmt.Errorf("report: html: %w", err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return errors.Join(chartErrs...)
}

// runBounds returns when the run started and ended: as given, or else
// from the first job's start and the last job's end.
func runBounds(r *Run) (start, end time.Time) {
	start, end = r.Start, r.End
	for _, j := range r.Jobs {
		if start.IsZero() || j.Start.Before(start) {
			start = j.Start
		}
		if e := j.Start.Add(j.Runtime); e.After(end) {
			end = e
		}
	}
	return start, end
}

// runLanes packs the jobs into lanes: one per slot or worker, in natural
// order from the top, with extra lanes under the same name for jobs that
// overlap in time there.
func runLanes(r *Run, start, end time.Time) (l *lanes, lo, hi float64) {
	byLane := map[string][]RunJob{}
	for _, j := range r.Jobs {
		byLane[j.Lane] = append(byLane[j.Lane], j)
	}
	names := make([]string, 0, len(byLane))
	for n := range byLane {
		names = append(names, n)
	}
	slices.SortFunc(names, naturalCompare)
	secs := func(t time.Time) float64 { return t.Sub(start).Seconds() }
	l = &lanes{fill: func(int) color.Color { return palette[0] }}
	for _, name := range names {
		jobs := byLane[name]
		slices.SortFunc(jobs, func(a, b RunJob) int { return a.Start.Compare(b.Start) })
		var packed [][]bar
		var ends []float64
		for _, j := range jobs {
			b := bar{start: secs(j.Start), end: secs(j.Start.Add(j.Runtime)), failed: j.Failed}
			i := slices.IndexFunc(ends, func(e float64) bool { return e <= b.start })
			if i < 0 {
				i = len(packed)
				packed, ends = append(packed, nil), append(ends, 0)
			}
			packed[i], ends[i] = append(packed[i], b), b.end
		}
		for i, bars := range packed {
			label := name
			if i > 0 {
				label = fmt.Sprintf("%s ·%d", name, i+1)
			}
			l.labels, l.bars = append(l.labels, label), append(l.bars, bars)
		}
	}
	// The first lane on top, as people read a list.
	slices.Reverse(l.labels)
	slices.Reverse(l.bars)
	hi = secs(end)
	if hi <= 0 {
		hi = 1
	}
	return l, 0, hi
}

// naturalCompare orders lane names as numbers where both are numbers
// (slot 2 before slot 10), else as text.
func naturalCompare(a, b string) int {
	x, errA := strconv.Atoi(a)
	y, errB := strconv.Atoi(b)
	if errA == nil && errB == nil {
		return cmp.Compare(x, y)
	}
	return cmp.Compare(a, b)
}

// runTimeHistogram turns the jobs' run times into a bar chart of how many
// jobs fall in each of about ten bins of a round width.
func runTimeHistogram(r *Run) (*lab.Result, lab.Chart) {
	secs := make([]float64, len(r.Jobs))
	for i, j := range r.Jobs {
		secs[i] = j.Runtime.Seconds()
	}
	lo, hi := slices.Min(secs), slices.Max(secs)
	width := niceWidth((hi - lo) / 10)
	first := math.Floor(lo/width) * width
	n := max(1, int(math.Floor((hi-first)/width))+1)
	counts := make([]int, n)
	for _, s := range secs {
		counts[min(n-1, int((s-first)/width))]++
	}
	res := &lab.Result{Name: "run times"}
	for i, c := range counts {
		from := first + float64(i)*width
		res.Rows = append(res.Rows, lab.Row{
			"seconds": fmt.Sprintf("%s – %s s", shortFloat(from), shortFloat(from+width)),
			"jobs":    c,
		})
	}
	return res, lab.Chart{Kind: "bar", Title: "Run times", X: "seconds", Y: "jobs", YLabel: "jobs"}
}

// niceWidth rounds a bin width up to 1, 2 or 5 times a power of ten, so
// the bins' edges are numbers a person reads at a glance.
func niceWidth(w float64) float64 {
	if w <= 0 || math.IsNaN(w) || math.IsInf(w, 0) {
		return 0.001
	}
	p := math.Pow10(int(math.Floor(math.Log10(w))))
	for _, m := range []float64{1, 2, 5, 10} {
		if w <= m*p {
			return max(m*p, 0.001)
		}
	}
	return 10 * p
}

func shortFloat(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }

// runFigure draws one chart and embeds it as an image.
func runFigure(title string, draw func() ([]byte, int, error)) figure {
	data, _, err := safely(draw)
	f := figure{Title: title}
	switch {
	case err != nil:
		f.Problem = "not drawn: " + err.Error()
	case data == nil:
		f.Problem = "nothing to plot"
	default:
		f.File = "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(data)
	}
	return f
}

// runTotals are the figures at the top of the page.
func runTotals(r *Run, start, end time.Time) [][2]string {
	var failed int64
	var busy time.Duration
	times := make([]float64, 0, len(r.Jobs))
	lanes := map[string]bool{}
	for _, j := range r.Jobs {
		if j.Failed {
			failed++
		}
		busy += j.Runtime
		times = append(times, j.Runtime.Seconds())
		lanes[j.Lane] = true
	}
	ran := int64(len(r.Jobs))
	wall := end.Sub(start)
	t := [][2]string{
		{"jobs run", groupInt(strconv.FormatInt(ran, 10))},
		{"succeeded", groupInt(strconv.FormatInt(ran-failed, 10))},
		{"failed", groupInt(strconv.FormatInt(failed, 10))},
	}
	if r.Skipped > 0 {
		t = append(t, [2]string{"skipped (already in the joblog)", groupInt(strconv.FormatInt(r.Skipped, 10))})
	}
	t = append(t, [2]string{"wall time (s)", formatFloat(wall.Seconds())})
	if len(times) == 0 {
		return t
	}
	slices.Sort(times)
	mean := busy.Seconds() / float64(len(times))
	t = append(t,
		[2]string{"run time: shortest (s)", formatFloat(times[0])},
		[2]string{"run time: median (s)", formatFloat(quantile(times, 0.5))},
		[2]string{"run time: mean (s)", formatFloat(mean)},
		[2]string{"run time: 90th percentile (s)", formatFloat(quantile(times, 0.9))},
		[2]string{"run time: longest (s)", formatFloat(times[len(times)-1])},
		[2]string{"busy time, all jobs (s)", formatFloat(busy.Seconds())},
	)
	if wall > 0 {
		t = append(t, [2]string{"jobs running at once, on average", formatFloat(busy.Seconds() / wall.Seconds())})
		if r.Slots > 0 {
			t = append(t, [2]string{fmt.Sprintf("slots busy (of %d)", r.Slots),
				fmt.Sprintf("%.0f%%", 100*busy.Seconds()/wall.Seconds()/float64(r.Slots))})
		}
	}
	return t
}

// quantile returns the q-quantile of sorted values, interpolated.
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (pos-float64(i))*(sorted[i+1]-sorted[i])
}

// failedRow is one failed job in the page's list.
type failedRow struct {
	Seq, Lane, Status, Start, Runtime, Command string
}

// failedJobs lists up to limit failed jobs in job order, and how many
// more there are.
func failedJobs(r *Run, start time.Time, limit int) ([]failedRow, int) {
	var jobs []RunJob
	for _, j := range r.Jobs {
		if j.Failed {
			jobs = append(jobs, j)
		}
	}
	slices.SortFunc(jobs, func(a, b RunJob) int { return cmp.Compare(a.Seq, b.Seq) })
	var rows []failedRow
	for _, j := range jobs[:min(limit, len(jobs))] {
		status := fmt.Sprintf("exit %d", j.Exit)
		if j.Signal != 0 {
			status = fmt.Sprintf("signal %d", j.Signal)
		}
		rows = append(rows, failedRow{
			Seq: strconv.FormatInt(j.Seq, 10), Lane: j.Lane, Status: status,
			Start: formatFloat(j.Start.Sub(start).Seconds()), Runtime: formatFloat(j.Runtime.Seconds()),
			Command: oneLine(j.Command),
		})
	}
	return rows, len(jobs) - len(rows)
}

type runPage struct {
	Command, Started, LaneName string
	Totals                     [][2]string
	Charts                     []figure
	Failed                     []failedRow
	MoreFailed                 int
}

var runTemplate = template.Must(template.New("run").Funcs(template.FuncMap{
	"src": func(s string) template.URL { return template.URL(s) },
}).Parse(runHTML))

// Like the lab's page: plain HTML with inline CSS, so it opens from disk,
// offline, in any browser, and prints cleanly.
const runHTML = docHead + `<title>crew run report</title>
<style>
` + baseCSS + `h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
.command { font-family: "Liberation Mono", monospace; background: #f4f4f4; padding: .3rem .6rem; border-radius: 4px; overflow-wrap: anywhere; }
.started { color: #555; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid #e4e4e4; text-align: left; vertical-align: top; }
td.cmd { font-family: "Liberation Mono", monospace; font-size: .85rem; overflow-wrap: anywhere; }
.bad { color: #b71c1c; font-weight: bold; }
figure img { width: 100%; height: auto; border: 1px solid #eee; }
figure.narrow img { width: auto; max-width: 100%; }
.key { display: inline-block; width: .8rem; height: .8rem; vertical-align: -.1rem; margin: 0 .2rem; }
</style>
</head>
<body>
<h1>crew run report</h1>
{{if .Command}}<p class="command">{{.Command}}</p>{{end}}
{{if .Started}}<p class="started">Started {{.Started}}.</p>{{end}}
<h2>Totals</h2>
<table>
<tbody>
{{range .Totals}}<tr><th>{{index . 0}}</th><td class="num{{if and (eq (index . 0) "failed") (ne (index . 1) "0")}} bad{{end}}">{{index . 1}}</td></tr>
{{end}}</tbody>
</table>
{{if .Charts}}<h2>Timeline and run times</h2>
<p><span class="key" style="background:#4e79a7"></span>job (alternating shades within a {{.LaneName}})
<span class="key" style="background:#d62728"></span>failed job</p>
{{range $i, $c := .Charts}}<figure{{if $i}} class="narrow"{{end}}>
{{if $c.File}}<img src="{{src $c.File}}" alt="{{$c.Title}}">{{end}}
<figcaption>{{$c.Title}}{{if $c.Problem}} <span class="problem">— {{$c.Problem}}</span>{{end}}</figcaption>
</figure>
{{end}}{{else}}<p>No jobs ran.</p>
{{end}}
{{if .Failed}}<h2>Failed jobs</h2>
<table>
<thead><tr><th class="num">job</th><th>{{.LaneName}}</th><th>status</th><th class="num">start (s)</th><th class="num">run time (s)</th><th>command</th></tr></thead>
<tbody>
{{range .Failed}}<tr><td class="num">{{.Seq}}</td><td>{{.Lane}}</td><td>{{.Status}}</td><td class="num">{{.Start}}</td><td class="num">{{.Runtime}}</td><td class="cmd">{{.Command}}</td></tr>
{{end}}</tbody>
</table>
{{if .MoreFailed}}<p>… and {{.MoreFailed}} more failed jobs (see --joblog for all of them).</p>{{end}}
{{end}}
</body>
</html>
`
