package report_test

import (
	"math"
	"time"

	"crew/internal/lab"
)

// sampleReport is a fixed report shaped like a real lab run: a bar chart
// with timelines, a line chart with several series on log axes, and a
// result that differs from its claim.
func sampleReport() *lab.Report {
	return &lab.Report{
		Machine: lab.Machine{CPUs: 2, GOMAXPROCS: 2, GoVersion: "go1.26.0", OS: "linux", Arch: "amd64", Python: "/usr/bin/python3"},
		Experiments: []*lab.Result{
			{
				Name:    "cpubound",
				Claim:   "Threads do not speed up CPU-bound work under the GIL; processes do.",
				Holds:   true,
				Verdict: "N threads under the emulated GIL ran no faster than one thread, while N processes ran 1.9× faster.",
				Columns: []string{"mode", "workers", "seconds", "speedup", "tasks"},
				Rows: []lab.Row{
					{"mode": "one thread", "workers": 1, "seconds": 2.0, "speedup": 1.0, "tasks": 1000000},
					{"mode": "N threads", "workers": 2, "seconds": 1.0312, "speedup": 1.9394, "tasks": 1000000},
					{"mode": "N threads + GIL", "workers": 2, "seconds": 2.1, "speedup": 0.95238, "tasks": 1000000},
					{"mode": "N processes", "workers": 2, "seconds": 1.05, "speedup": 1.90476, "tasks": 1000000},
				},
				Notes:  []string{"workload: sum of squares, n=1000000 per task", "the GIL switch interval is 5ms, as CPython's default"},
				Params: map[string]any{"n": 1000000, "switch": "5ms"},
				Charts: []lab.Chart{{Title: "Wall time by mode", Kind: "bar", X: "mode", Y: "seconds", YLabel: "seconds"}},
				Timelines: []lab.Timeline{
					{Mode: "N threads + GIL", Spans: []lab.Span{
						{Worker: 0, Start: 0, End: 0.5}, {Worker: 1, Start: 0.5, End: 1.0},
						{Worker: 0, Start: 1.0, End: 1.6}, {Worker: 1, Start: 1.6, End: 2.1},
					}},
					{Mode: "N processes", Spans: []lab.Span{
						{Worker: 0, Start: 0, End: 0.5}, {Worker: 1, Start: 0.02, End: 0.53},
						{Worker: 0, Start: 0.5, End: 1.04}, {Worker: 1, Start: 0.53, End: 1.05},
					}},
				},
				Elapsed: 6200 * time.Millisecond,
			},
			{
				Name:    "scaling",
				Claim:   "Goroutines scale to 100,000 concurrent sleepers <cheaply> & quickly.",
				Holds:   false,
				Verdict: "Start-up cost grows linearly, not logarithmically.",
				Columns: []string{"kind", "n", "seconds", "ok"},
				Rows: []lab.Row{
					{"kind": "goroutine", "n": 10, "seconds": 0.0000123, "ok": true},
					{"kind": "goroutine", "n": 1000, "seconds": 0.00051, "ok": true},
					{"kind": "goroutine", "n": 100000, "seconds": 0.0412, "ok": true},
					{"kind": "thread", "n": 10, "seconds": 0.00031, "ok": true},
					{"kind": "thread", "n": 1000, "seconds": 0.0298, "ok": false},
					{"kind": "thread", "n": 100000, "seconds": math.NaN(), "ok": false},
				},
				Charts:  []lab.Chart{{Title: "Start-up time", Kind: "line", X: "n", Y: "seconds", Series: "kind", XLabel: "concurrent tasks", YLabel: "seconds", LogX: true, LogY: true}},
				Elapsed: 1500 * time.Millisecond,
			},
		},
	}
}
