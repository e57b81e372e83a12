package report

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"crew/internal/lab"
)

// ErrNilReport is returned when a nil report or result is given to render.
var ErrNilReport = errors.New("report: nil report")

// Text writes the whole report as plain Text: a machine line, then each
// experiment as [TextResult] prints it, separated by blank lines. It
// returns the first write error.
func Text(w io.Writer, r *lab.Report) error {
	if r == nil {
		return ErrNilReport
	}
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "machine: %s\n", machineLine(r.Machine))
	for _, res := range r.Experiments {
		if res == nil {
			continue
		}
		ew.WriteString("\n")
		writeResult(ew, res)
	}
	return ew.result()
}

// TextResult writes one experiment as plain Text: a header with its name
// and wall time, its claim and parameters, an aligned table of its rows
// (numbers right-aligned, text left-aligned, in Columns order), its notes,
// and a verdict line that starts with "holds:", "differs:", or "not shown:"
// when the result is Inconclusive. Callers
// print each result as soon as the experiment finishes; [Text] prints the
// same block for every experiment of a report.
func TextResult(w io.Writer, res *lab.Result) error {
	if res == nil {
		return ErrNilReport
	}
	ew := &errWriter{w: w}
	writeResult(ew, res)
	return ew.result()
}

func writeResult(w *errWriter, res *lab.Result) {
	fmt.Fprintf(w, "== %s (%s s)\n", oneLine(res.Name), formatFloat(res.Elapsed.Seconds()))
	if res.Claim != "" {
		fmt.Fprintf(w, "claim: %s\n", oneLine(res.Claim))
	}
	if len(res.Params) > 0 {
		fmt.Fprintf(w, "params: %s\n", oneLine(paramsLine(res.Params)))
	}
	writeTable(w, res)
	for _, n := range res.Notes {
		fmt.Fprintf(w, "note: %s\n", oneLine(n))
	}
	fmt.Fprintf(w, "%s: %s\n", verdictWord(res), oneLine(res.Verdict))
}

// writeTable aligns the rows itself rather than with text/tabwriter,
// because tabwriter aligns all columns one way and numbers must go right
// while text goes left.
func writeTable(w *errWriter, res *lab.Result) {
	cols, cells, numeric := table(res)
	if len(cols) == 0 || len(cells) == 0 {
		w.WriteString("(no rows)\n")
		return
	}
	widths := make([]int, len(cols))
	for i, c := range cols {
		widths[i] = utf8.RuneCountInString(oneLine(c))
	}
	for _, line := range cells {
		for i := range line {
			line[i].Text = oneLine(line[i].Text)
			widths[i] = max(widths[i], utf8.RuneCountInString(line[i].Text))
		}
	}
	header := make([]string, len(cols))
	rule := make([]string, len(cols))
	for i, c := range cols {
		header[i] = oneLine(c)
		rule[i] = strings.Repeat("-", widths[i])
	}
	writeLine(w, header, widths, numeric)
	writeLine(w, rule, widths, numeric)
	for _, line := range cells {
		texts := make([]string, len(line))
		for i, c := range line {
			texts[i] = c.Text
		}
		writeLine(w, texts, widths, numeric)
	}
}

func writeLine(w *errWriter, texts []string, widths []int, right []bool) {
	var b strings.Builder
	for i, t := range texts {
		if i > 0 {
			b.WriteString("  ")
		}
		pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(t))
		if right[i] {
			b.WriteString(pad + t)
		} else {
			b.WriteString(t + pad)
		}
	}
	w.WriteString(strings.TrimRight(b.String(), " ") + "\n")
}

// oneLine keeps a value on one line, so a stray newline or tab in a mode
// name cannot break the table's alignment.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\t", " ").Replace(s)
}

// errWriter remembers the first write error so the renderers can write
// line by line and check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

func (e *errWriter) WriteString(s string) {
	_, _ = e.Write([]byte(s))
}

func (e *errWriter) result() error {
	if e.err != nil {
		return fmt.Errorf("report: write: %w", e.err)
	}
	return nil
}
