package report

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"crew/internal/lab"
)

// HTML writes the report as a web page into dir, creating dir if needed:
// index.html, plus one SVG file per chart and per timeline, referenced by
// relative name so the directory can be moved or archived whole. The page
// shows the machine, and per experiment its claim, its verdict (green when
// the claim holds, amber when it differs), the table, the notes and the
// charts. It uses inline CSS only, no scripts and no remote assets.
//
// For each of a result's Charts it draws a "bar" chart (one horizontal bar
// per row, labelled by the X column, as long as the Y value) or a "line"
// chart (one line per distinct Series value, numeric X and Y, LogX and
// LogY honoured). A row without the chart's columns is not part of it (a
// ceiling row in a chart of clients, say); rows whose values cannot be
// plotted (not numbers, or not positive on a log axis) are left out, and
// the page says how many. For
// each Timeline it draws one lane per worker and one bar per span; all
// timelines of a result share one time axis.
//
// A directory written before is reused: the SVG files an earlier HTML call
// wrote there (named like "gil-chart1.svg" or "gil-timeline2.svg") are
// removed first, so no chart of an older run lingers beside the new page.
// Any other file in dir is left alone.
//
// A chart that cannot be drawn (unknown kind, no X or Y column) does not
// stop the page: HTML writes everything else, marks the gap on the page,
// and returns the [*ChartError]s joined. Other errors come from creating
// or writing files.
func HTML(dir string, r *lab.Report) error {
	if r == nil {
		return ErrNilReport
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := removeOwnFiles(dir); err != nil {
		return err
	}
	page := pageData{Machine: r.Machine, MachineLine: machineLine(r.Machine)}
	slugs := map[string]bool{}
	var chartErrs []error
	for _, res := range r.Experiments {
		if res == nil {
			continue
		}
		sec := section(res, uniqueSlug(res.Name, slugs))
		for _, d := range drawAll(res, sec.ID) {
			if d.err != nil {
				chartErrs = append(chartErrs, d.err)
			}
			if d.file != "" {
				if err := os.WriteFile(filepath.Join(dir, d.file), d.data, 0o644); err != nil {
					return fmt.Errorf("report: %w", err)
				}
			}
			sec.Charts = append(sec.Charts, d.figure())
		}
		page.Experiments = append(page.Experiments, sec)
	}
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, page); err != nil {
		return fmt.Errorf("report: html: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return errors.Join(chartErrs...)
}

// ownFile matches the names drawAll gives chart files: a slug, then
// -chartN or -timelineN.
var ownFile = regexp.MustCompile(`^[a-z0-9_-]+-(chart|timeline)[0-9]+\.svg$`)

// removeOwnFiles deletes the chart files a previous HTML call left in dir.
func removeOwnFiles(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !ownFile.MatchString(e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("report: %w", err)
		}
	}
	return nil
}

// rendered is a chart ready to write, or the reason it is not there.
type rendered struct {
	drawn
	data []byte
}

func (d rendered) figure() figure {
	f := figure{Title: d.title, File: d.file}
	switch {
	case d.err != nil:
		f.Problem = "not drawn: " + d.err.Error()
	case d.empty:
		f.Problem = "nothing to plot"
	}
	if d.skipped > 0 {
		f.Skipped = fmt.Sprintf("%d value(s) left out: not a number, or not positive on a log axis", d.skipped)
	}
	return f
}

// drawAll renders every chart and timeline of one result.
func drawAll(res *lab.Result, slug string) []rendered {
	var out []rendered
	for i, ch := range res.Charts {
		title := cmp.Or(ch.Title, ch.Y+" by "+ch.X)
		d := rendered{drawn: drawn{title: title}}
		var draw func(*lab.Result, lab.Chart) ([]byte, int, error)
		switch {
		case ch.X == "" || ch.Y == "":
			d.err = ErrChartColumns
		case ch.Kind == "bar":
			draw = barChart
		case ch.Kind == "line":
			draw = lineChart
		default:
			d.err = fmt.Errorf("%w %q", ErrChartKind, ch.Kind)
		}
		if draw != nil {
			d.data, d.skipped, d.err = safely(func() ([]byte, int, error) { return draw(res, ch) })
		}
		out = append(out, finish(d, res, fmt.Sprintf("%s-chart%d.svg", slug, i+1)))
	}
	lo, hi := timeRange(res.Timelines)
	for i, tl := range res.Timelines {
		d := rendered{drawn: drawn{title: "Timeline: " + oneLine(tl.Mode)}}
		d.data, d.skipped, d.err = safely(func() ([]byte, int, error) { return timelineChart(res, tl, lo, hi) })
		out = append(out, finish(d, res, fmt.Sprintf("%s-timeline%d.svg", slug, i+1)))
	}
	return out
}

func finish(d rendered, res *lab.Result, file string) rendered {
	switch {
	case d.err != nil:
		d.err = &ChartError{Experiment: res.Name, Chart: d.title, Err: d.err}
	case d.data == nil:
		d.empty = true
	default:
		d.file = file
	}
	return d
}

// safely runs a drawing function and turns a panic inside the plotting
// library into an error: a malformed figure should cost one chart, not
// the caller's whole lab run.
func safely(f func() ([]byte, int, error)) (data []byte, skipped int, err error) {
	defer func() {
		if v := recover(); v != nil {
			data, err = nil, fmt.Errorf("plotting failed: %v", v)
		}
	}()
	return f()
}

// uniqueSlug turns a name into a file- and anchor-safe word, distinct from
// the ones already used.
func uniqueSlug(name string, used map[string]bool) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	base := strings.Trim(b.String(), "-")
	if base == "" {
		base = "experiment"
	}
	slug := base
	for i := 2; used[slug]; i++ {
		slug = fmt.Sprintf("%s-%d", base, i)
	}
	used[slug] = true
	return slug
}
