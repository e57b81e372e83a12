package report_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"crew/internal/lab"
	"crew/internal/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		file   string
		render func(*bytes.Buffer, *lab.Report) error
	}{
		{"sample.txt", func(b *bytes.Buffer, r *lab.Report) error { return report.Text(b, r) }},
		{"sample.json", func(b *bytes.Buffer, r *lab.Report) error { return report.JSON(b, r) }},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.render(&b, sampleReport()); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.file, b.Bytes())
		})
	}
}

func TestTextAlignment(t *testing.T) {
	var b bytes.Buffer
	if err := report.Text(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	// Every line of one table block must have its numeric columns end at
	// the same offset: check the lengths of the table lines of cpubound.
	var table []string
	for i, l := range lines {
		if strings.HasPrefix(l, "mode ") {
			table = lines[i : i+6]
			break
		}
	}
	if table == nil {
		t.Fatalf("no table header in:\n%s", b.String())
	}
	for _, l := range table[1:] {
		if len(l) != len(table[0]) {
			t.Errorf("line %q has length %d, header %d", l, len(l), len(table[0]))
		}
	}
	for _, want := range []string{"1,000,000", "1.031", "1.23e-05", "NaN", "holds: N threads", "differs: Start-up", "machine: 2 CPUs, GOMAXPROCS 2, go1.26.0, linux/amd64, python /usr/bin/python3"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}

func TestTextResultEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		res  *lab.Result
		want []string
	}{
		{"no rows", &lab.Result{Name: "empty", Verdict: "nothing ran"}, []string{"(no rows)", "differs: nothing ran"}},
		{"no columns", &lab.Result{Name: "cols", Holds: true, Rows: []lab.Row{{"b": 2, "a": "x"}}}, []string{"a  b", "x  2", "holds: "}},
		{"newlines in text", &lab.Result{Name: "nl\nname", Columns: []string{"m"}, Rows: []lab.Row{{"m": "two\nlines"}}}, []string{"== nl name", "two lines"}},
		{"missing and odd values", &lab.Result{Name: "odd", Columns: []string{"a", "b"}, Rows: []lab.Row{{"a": 1}, {"a": -12345, "b": []int{1}}, {"a": uint8(7), "b": float32(0.5)}}}, []string{"-12,345", "[1]", "0.500"}},
		{"inconclusive", &lab.Result{Name: "gil", Inconclusive: true, Verdict: "cannot show on 1 CPU: one core"}, []string{"\nnot shown: cannot show on 1 CPU: one core\n"}},
		{"inconclusive wins over holds", &lab.Result{Name: "gil", Inconclusive: true, Holds: true, Verdict: "v"}, []string{"\nnot shown: v\n"}},
		{"negative zero and infinities", &lab.Result{Name: "z", Columns: []string{"a"}, Rows: []lab.Row{{"a": math.Copysign(0, -1)}, {"a": -0.0001}, {"a": -1e-9}, {"a": math.Inf(1)}, {"a": 0.99951}}}, []string{"\n    0.000\n", "-0.000100", "-1.00e-09", "+Inf", "    1.000\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := report.TextResult(&b, tt.res); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}

// TestMachineLine checks the CPU count's grammar and that an inconclusive
// result shows in every form: text, JSON and the HTML page.
func TestMachineLine(t *testing.T) {
	for _, c := range []struct {
		cpus int
		want string
	}{{1, "machine: 1 CPU, GOMAXPROCS 1"}, {2, "machine: 2 CPUs, GOMAXPROCS 1"}, {0, "machine: 0 CPUs"}} {
		var b bytes.Buffer
		r := &lab.Report{Machine: lab.Machine{CPUs: c.cpus, GOMAXPROCS: 1}}
		if err := report.Text(&b, r); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(b.String(), c.want) {
			t.Errorf("%d CPUs: got %q, want prefix %q", c.cpus, b.String(), c.want)
		}
	}
}

func TestInconclusiveEverywhere(t *testing.T) {
	r := &lab.Report{Experiments: []*lab.Result{{Name: "gil", Inconclusive: true, Verdict: "cannot show on 1 CPU: x"}}}
	var j bytes.Buffer
	if err := report.JSON(&j, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(j.String(), `"inconclusive": true`) || !strings.Contains(j.String(), `"holds": false`) {
		t.Errorf("JSON lacks inconclusive/holds:\n%s", j.String())
	}
	dir := t.TempDir()
	if err := report.HTML(dir, r); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), `<p class="verdict not-shown"><span class="badge">not shown</span>`) {
		t.Errorf("page does not mark the verdict not shown:\n%s", page)
	}
}

func TestNilReport(t *testing.T) {
	var b bytes.Buffer
	for name, err := range map[string]error{
		"Text":       report.Text(&b, nil),
		"TextResult": report.TextResult(&b, nil),
		"JSON":       report.JSON(&b, nil),
		"HTML":       report.HTML(t.TempDir(), nil),
	} {
		if !errors.Is(err, report.ErrNilReport) {
			t.Errorf("%s(nil) = %v, want ErrNilReport", name, err)
		}
	}
}

type failWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errDiskFull
	}
	f.n--
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	for _, n := range []int{0, 3} {
		if err := report.Text(&failWriter{n: n}, sampleReport()); !errors.Is(err, errDiskFull) {
			t.Errorf("Text after %d writes = %v, want errDiskFull", n, err)
		}
	}
	if err := report.JSON(&failWriter{}, sampleReport()); !errors.Is(err, errDiskFull) {
		t.Errorf("JSON = %v, want errDiskFull", err)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var b bytes.Buffer
	in := sampleReport()
	if err := report.JSON(&b, in); err != nil {
		t.Fatal(err)
	}
	var out lab.Report
	if err := json.Unmarshal(b.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Experiments) != len(in.Experiments) {
		t.Fatalf("got %d experiments, want %d", len(out.Experiments), len(in.Experiments))
	}
	got := out.Experiments[1]
	if got.Name != "scaling" || got.Holds || got.Rows[5]["seconds"] != nil || got.Rows[2]["n"] != 100000.0 {
		t.Errorf("round trip lost data: %+v", got)
	}
	if diff := cmp.Diff(in.Experiments[0].Timelines, out.Experiments[0].Timelines); diff != "" {
		t.Errorf("timelines differ (-in +out):\n%s", diff)
	}
	if out.Machine != in.Machine {
		t.Errorf("machine = %+v, want %+v", out.Machine, in.Machine)
	}
	// The input must not be changed by sanitising.
	if s := in.Experiments[1].Rows[5]["seconds"].(float64); s == s {
		t.Errorf("JSON modified its input: seconds = %v", s)
	}
}
