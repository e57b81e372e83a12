package report_test

import (
	"os"
	"time"

	"crew/lab"
	"crew/report"
)

func ExampleTextResult() {
	res := &lab.Result{
		Name:    "iobound",
		Claim:   "Threads speed up I/O-bound work even under the GIL.",
		Holds:   true,
		Verdict: "8 threads waited 8 sleeps at once.",
		Columns: []string{"mode", "workers", "seconds", "speedup"},
		Rows: []lab.Row{
			{"mode": "one thread", "workers": 1, "seconds": 0.8021, "speedup": 1.0},
			{"mode": "N threads", "workers": 8, "seconds": 0.1013, "speedup": 7.918},
			{"mode": "async", "workers": 1000, "seconds": 0.1002, "speedup": 8.005},
		},
		Notes:   []string{"each task sleeps 100ms"},
		Elapsed: 1004 * time.Millisecond,
	}
	report.TextResult(os.Stdout, res)
	// Output:
	// == iobound (1.004 s)
	// claim: Threads speed up I/O-bound work even under the GIL.
	// mode        workers  seconds  speedup
	// ----------  -------  -------  -------
	// one thread        1    0.802    1.000
	// N threads         8    0.101    7.918
	// async         1,000    0.100    8.005
	// note: each task sleeps 100ms
	// holds: 8 threads waited 8 sleeps at once.
}
