package report_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"crew/internal/lab"
	"crew/internal/report"
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

func ExampleText() {
	r := &lab.Report{
		Machine: lab.Machine{CPUs: 8, GOMAXPROCS: 8, GoVersion: "go1.26.0", OS: "linux", Arch: "arm64"},
		Experiments: []*lab.Result{{
			Name:    "spawn",
			Claim:   "Starting a process costs far more than starting a thread.",
			Holds:   true,
			Verdict: "A process took about 1,000 times as long to start as a goroutine.",
			Columns: []string{"what", "n", "seconds"},
			Rows: []lab.Row{
				{"what": "goroutine", "n": 10000, "seconds": 0.0031},
				{"what": "process", "n": 10000, "seconds": 3.2},
			},
			Elapsed: 3300 * time.Millisecond,
		}},
	}
	report.Text(os.Stdout, r)
	// Output:
	// machine: 8 CPUs, GOMAXPROCS 8, go1.26.0, linux/arm64
	//
	// == spawn (3.300 s)
	// claim: Starting a process costs far more than starting a thread.
	// what            n  seconds
	// ---------  ------  -------
	// goroutine  10,000  0.00310
	// process    10,000    3.200
	// holds: A process took about 1,000 times as long to start as a goroutine.
}

func ExampleRunHTML() {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	run := &report.Run{
		Command: "gzip {}", Start: t0, End: t0.Add(2 * time.Second), Slots: 2,
		Jobs: []report.RunJob{
			{Seq: 1, Lane: "1", Start: t0, Runtime: 1500 * time.Millisecond, Command: "gzip a.log"},
			{Seq: 2, Lane: "2", Start: t0, Runtime: 500 * time.Millisecond, Command: "gzip b.log"},
			{Seq: 3, Lane: "2", Start: t0.Add(time.Second), Runtime: time.Second, Failed: true, Exit: 1, Command: "gzip c.log"},
		},
	}
	var page strings.Builder
	if err := report.RunHTML(&page, run); err != nil {
		fmt.Println(err)
	}
	// The totals, as the page's table shows them.
	row := regexp.MustCompile(`<tr><th>(.*)</th><td class="num[^"]*">(.*)</td></tr>`)
	for _, m := range row.FindAllStringSubmatch(page.String(), -1) {
		fmt.Printf("%s: %s\n", m[1], m[2])
	}
	fmt.Println("charts:", strings.Count(page.String(), `<img src="data:image/svg`))
	// Output:
	// jobs run: 3
	// succeeded: 2
	// failed: 1
	// wall time (s): 2.000
	// run time: shortest (s): 0.500
	// run time: median (s): 1.000
	// run time: mean (s): 1.000
	// run time: 90th percentile (s): 1.400
	// run time: longest (s): 1.500
	// busy time, all jobs (s): 3.000
	// jobs running at once, on average: 1.500
	// slots busy (of 2): 75%
	// charts: 2
}
