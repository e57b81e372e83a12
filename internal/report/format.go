package report

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"crew/internal/lab"
)

// cell is one formatted table value and whether it should align as a number.
type cell struct {
	Text    string
	Numeric bool
}

// formatValue formats a row value for a person to read. Missing values are
// empty; the boolean reports whether the value is a number.
func formatValue(v any) cell {
	switch x := v.(type) {
	case nil:
		return cell{}
	case string:
		return cell{Text: x}
	case bool:
		return cell{Text: strconv.FormatBool(x)}
	case time.Duration:
		// A duration in a table is almost always a measured time, and the
		// tables speak seconds.
		return cell{Text: formatFloat(x.Seconds()), Numeric: true}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return cell{Text: groupInt(strconv.FormatInt(i, 10)), Numeric: true}
		}
		if f, err := x.Float64(); err == nil {
			return cell{Text: formatFloat(f), Numeric: true}
		}
		return cell{Text: x.String()}
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return cell{Text: groupInt(strconv.FormatInt(rv.Int(), 10)), Numeric: true}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return cell{Text: groupInt(strconv.FormatUint(rv.Uint(), 10)), Numeric: true}
	case reflect.Float32, reflect.Float64:
		return cell{Text: formatFloat(rv.Float()), Numeric: true}
	case reflect.String:
		return cell{Text: rv.String()}
	case reflect.Bool:
		return cell{Text: strconv.FormatBool(rv.Bool())}
	}
	return cell{Text: fmt.Sprint(v)}
}

// formatFloat writes three decimals from 1 up, grouping the integer part,
// and three significant digits below 1, so a 51µs timing reads 0.0000510
// rather than collapsing to 0.000. NaN and ±Inf are spelled out.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case f != 0 && math.Abs(f) < 0.9995:
		// %#g keeps trailing zeros, so 0.5 lines up as 0.500.
		return fmt.Sprintf("%#.3g", f)
	}
	s := strconv.FormatFloat(f, 'f', 3, 64)
	if s == "-0.000" {
		s = "0.000"
	}
	whole, frac, _ := strings.Cut(s, ".")
	return groupInt(whole) + "." + frac
}

// groupInt inserts thousands separators into a decimal integer string.
func groupInt(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	if len(s) <= 3 {
		return sign + s
	}
	var b strings.Builder
	b.WriteString(sign)
	head := len(s) % 3
	if head > 0 {
		b.WriteString(s[:head])
	}
	for i := head; i < len(s); i += 3 {
		if b.Len() > len(sign) {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// columns returns the result's display columns: Columns when set, else
// every key found in the rows, sorted, so a result without Columns still
// shows all it measured.
func columns(res *lab.Result) []string {
	if len(res.Columns) > 0 {
		return res.Columns
	}
	seen := map[string]bool{}
	var cols []string
	for _, row := range res.Rows {
		for k := range row {
			if !seen[k] {
				seen[k] = true
				cols = append(cols, k)
			}
		}
	}
	sort.Strings(cols)
	return cols
}

// table formats a result's rows. A column aligns right when every value in
// it is a number (empty cells do not count).
func table(res *lab.Result) (cols []string, cells [][]cell, numeric []bool) {
	cols = columns(res)
	numeric = make([]bool, len(cols))
	seen := make([]bool, len(cols))
	for i := range numeric {
		numeric[i] = true
	}
	for _, row := range res.Rows {
		line := make([]cell, len(cols))
		for i, c := range cols {
			line[i] = formatValue(row[c])
			if line[i].Text != "" {
				seen[i] = true
				numeric[i] = numeric[i] && line[i].Numeric
			}
		}
		cells = append(cells, line)
	}
	for i := range numeric {
		numeric[i] = numeric[i] && seen[i]
	}
	return cols, cells, numeric
}

// machineLine summarises where the run happened in one line.
func machineLine(m lab.Machine) string {
	parts := []string{
		plural(m.CPUs, "CPU"),
		fmt.Sprintf("GOMAXPROCS %d", m.GOMAXPROCS),
	}
	if m.GoVersion != "" {
		parts = append(parts, m.GoVersion)
	}
	if m.OS != "" || m.Arch != "" {
		parts = append(parts, m.OS+"/"+m.Arch)
	}
	if m.Python != "" {
		parts = append(parts, "python "+m.Python)
	}
	return strings.Join(parts, ", ")
}

// verdictWord is the word that starts a verdict line. An inconclusive
// result is "not shown" rather than "differs", so that a machine that
// could not test a claim does not read as evidence against it.
func verdictWord(res *lab.Result) string {
	switch {
	case res.Inconclusive:
		return "not shown"
	case res.Holds:
		return "holds"
	}
	return "differs"
}

// paramsLine lists the parameters sorted by name, so output is stable.
func paramsLine(p map[string]any) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		// Plain values, not grouped ones, so a reader can paste them back
		// into a --param flag.
		parts[i] = k + "=" + fmt.Sprint(p[k])
	}
	return strings.Join(parts, " ")
}

// plural writes n and the noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
