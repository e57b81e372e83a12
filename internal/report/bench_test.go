package report_test

import (
	"fmt"
	"io"
	"testing"
	"text/tabwriter"

	"crew/internal/lab"
	"crew/internal/report"
)

// bigReport has one experiment with many rows, to measure the table code
// rather than the fixed cost of a call.
func bigReport(rows int) *lab.Report {
	r := sampleReport()
	res := r.Experiments[0]
	res.Rows = nil
	for i := range rows {
		res.Rows = append(res.Rows, lab.Row{"mode": fmt.Sprintf("mode %d", i), "workers": i, "seconds": float64(i) / 7, "speedup": 1.5, "tasks": i * 1000})
	}
	return r
}

func BenchmarkText(b *testing.B) {
	r := bigReport(1000)
	for b.Loop() {
		if err := report.Text(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTextTabwriterPeer prints the same rows with text/tabwriter and
// fmt, the standard library's way to align a table, as a yardstick for
// BenchmarkText (which also formats numbers and aligns per column).
func BenchmarkTextTabwriterPeer(b *testing.B) {
	r := bigReport(1000)
	for b.Loop() {
		for _, res := range r.Experiments {
			tw := tabwriter.NewWriter(io.Discard, 0, 8, 2, ' ', tabwriter.AlignRight)
			for _, row := range res.Rows {
				for _, c := range res.Columns {
					fmt.Fprintf(tw, "%v\t", row[c])
				}
				fmt.Fprintln(tw)
			}
			tw.Flush()
		}
	}
}

func BenchmarkJSON(b *testing.B) {
	r := bigReport(1000)
	for b.Loop() {
		if err := report.JSON(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHTML(b *testing.B) {
	r := sampleReport()
	dir := b.TempDir()
	for b.Loop() {
		if err := report.HTML(dir, r); err != nil {
			b.Fatal(err)
		}
	}
}
