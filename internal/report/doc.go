// Package report renders the results of a lab run, and the picture of a
// crew run, for people and programs.
//
// A lab run produces a [lab.Report]: the machine it ran on and one
// [lab.Result] per experiment. This package turns it into three forms:
//
//   - [Text] writes aligned tables for a terminal, and [TextResult] prints
//     one experiment as soon as it finishes, so a long run shows progress.
//   - [JSON] writes one indented JSON document for scripts and for diffing
//     runs against each other.
//   - [HTML] writes a directory holding index.html and one SVG file per
//     chart: bar and line charts of the rows, and timelines of which worker
//     ran what, when. The page needs no network and no JavaScript, so it
//     can be opened from disk or attached to a bug report.
//
// [RunHTML] draws a crew run (crew run --report FILE.html) with the same
// charts: the totals, a timeline with a lane per job slot or worker and
// each job a bar from its start to its end (failures in red), and the
// distribution of run times, all in one self-contained HTML file.
//
// Numbers are formatted the same way everywhere a person reads them:
// integers with thousands separators (1,234,567), floating-point figures
// of 1 and more with three decimals (12.125), and those below 1 with three
// significant digits (0.250, 0.00410, 1.25e-05) so small timings do not
// collapse to 0.000. JSON keeps the raw values.
//
// This is the only package of crew that imports the plotting library
// (gonum.org/v1/plot); the rest of crew reaches it only through here.
//
// All functions may be called concurrently as long as no one mutates the
// report while it is rendered and no two HTML calls share a directory.
// Text and JSON cost microseconds per row; HTML costs a few milliseconds
// per chart, most of it in the plotting library.
package report
