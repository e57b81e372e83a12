package report_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"crew/internal/lab"
	"crew/internal/report"
)

// FuzzRender feeds arbitrary names, text and figures through every
// renderer. Text must succeed and end in the verdict line, JSON must be
// valid and keep the strings, and HTML must draw every chart: a panic in
// the plotting library would come back as a *ChartError and fail here.
func FuzzRender(f *testing.F) {
	f.Add("cpubound", "N threads", "12.5", 1.5, 100.0, 0.25, true)
	f.Add("", "", "", 0.0, 0.0, 0.0, false)
	f.Add("a\nb<c>&", "\t\"x\"", "-1e308", -1e308, 1e308, -0.0, true)
	f.Add("名前", "µs", "NaN", 5e-324, 1e-9, 1e9, false)
	f.Fuzz(func(t *testing.T, name, mode, text string, x, y, span float64, logs bool) {
		res := &lab.Result{
			Name:    name,
			Claim:   text,
			Verdict: mode,
			Columns: []string{"mode", "x", "y", "text"},
			Rows: []lab.Row{
				{"mode": mode, "x": x, "y": y, "text": text},
				{"mode": text, "x": text, "y": x, "text": mode},
				{"mode": name, "x": y, "y": span, "text": 7},
			},
			Notes: []string{text},
			Charts: []lab.Chart{
				{Title: name, Kind: "bar", X: "mode", Y: "y"},
				{Title: mode, Kind: "line", X: "x", Y: "y", Series: "text", LogX: logs, LogY: !logs},
			},
			Timelines: []lab.Timeline{{Mode: mode, Spans: []lab.Span{
				{Worker: int(int8(len(text))), Start: x, End: y},
				{Worker: 1, Start: 0, End: span},
			}}},
		}
		r := &lab.Report{Experiments: []*lab.Result{res}}

		var b bytes.Buffer
		if err := report.Text(&b, r); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		if last := lines[len(lines)-1]; !strings.HasPrefix(last, "differs: ") {
			t.Errorf("last line %q is not the verdict", last)
		}

		b.Reset()
		if err := report.JSON(&b, r); err != nil {
			// Spans are plain floats in the data model; JSON cannot carry
			// NaN or infinities there, and JSON says so.
			if finite(x, y, span) {
				t.Fatal(err)
			}
		} else {
			var back lab.Report
			if err := json.Unmarshal(b.Bytes(), &back); err != nil {
				t.Fatalf("JSON output does not parse: %v", err)
			}
			if got := back.Experiments[0]; got.Name != strings.ToValidUTF8(name, "\uFFFD") && utf8Valid(name) {
				t.Errorf("name %q came back as %q", name, got.Name)
			}
		}

		if err := report.HTML(t.TempDir(), r); err != nil {
			t.Fatal(err)
		}
	})
}

func finite(fs ...float64) bool {
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }
