package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"

	"crew/internal/lab"
)

// JSON writes the report as one indented JSON document of the form
//
//	{"machine": {...}, "experiments": [{"name", "claim", "holds", "verdict",
//	  "inconclusive", "ceiling", "columns", "rows", "notes", "params",
//	  "charts", "timelines", "elapsed_ns"}, ...]}
//
// using the field names of package lab; "ceiling" (threads, one_s,
// many_s, speedup, samples) is there for experiments that judge a
// speed-up against it. Row values keep their raw types;
// floating-point values that JSON cannot represent (NaN, ±Inf) are written
// as null rather than failing the whole document. Nil experiments are left
// out. It returns an error wrapping the encoder's or writer's failure.
func JSON(w io.Writer, r *lab.Report) error {
	if r == nil {
		return ErrNilReport
	}
	out := lab.Report{Machine: r.Machine, Experiments: []*lab.Result{}}
	for _, res := range r.Experiments {
		if res == nil {
			continue
		}
		c := *res
		c.Rows = make([]lab.Row, len(res.Rows))
		for i, row := range res.Rows {
			c.Rows[i] = finiteRow(row)
		}
		c.Params = finiteRow(res.Params)
		out.Experiments = append(out.Experiments, &c)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Keep "<" and "&" readable in claims; the document is not embedded
	// in HTML.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("report: json: %w", err)
	}
	return nil
}

// finiteRow copies a row, replacing non-finite floats with nil.
func finiteRow[M ~map[string]any](row M) M {
	if row == nil {
		return nil
	}
	c := make(M, len(row))
	for k, v := range row {
		switch f := v.(type) {
		case float64:
			if math.IsNaN(f) || math.IsInf(f, 0) {
				v = nil
			}
		case float32:
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				v = nil
			}
		}
		c[k] = v
	}
	return c
}
