package lab_test

import (
	"context"
	"testing"

	"crew/internal/lab"
)

// serverRecorded builds server figures from requests per second with 1 and
// 16 clients per mode (goroutines, one thread, GIL, processes), a ceiling,
// the measured CPU per request and the other processes' share.
func serverRecorded(one, sixteen [4]float64, ceiling, others float64) lab.ServerFigures {
	f := lab.ServerFigures{Clients: []int{1, 16}, Ceiling: lab.Ceiling{Threads: 2, One: ceiling, Many: 1, Speedup: ceiling, Samples: 8},
		Others: others, Saturate: 6, CPU: map[string]lab.ServerCPU{
			lab.ServerGoroutines: {Server: 0.0012, Clients: 0.00019}, lab.ServerOneThread: {Server: 0.0012, Clients: 0.0002},
			lab.ServerGIL: {Server: 0.0014, Clients: 0.0002}, lab.ServerProcs: {Server: 0.00145, Clients: 0.00019},
		}}
	for i, m := range []string{lab.ServerGoroutines, lab.ServerOneThread, lab.ServerGIL, lab.ServerProcs} {
		f.SetPoint(m, 1, lab.ServerPoint{Requests: 30, PerSec: one[i], P50: 3.4, P99: 4})
		f.SetPoint(m, 16, lab.ServerPoint{Requests: 300, PerSec: sixteen[i], P50: 10, P99: 25})
	}
	return f
}

// quietOne is a quiet quick run on the 2-core machine with 1 client.
var quietOne = [4]float64{293, 286, 276, 281}

func TestServerVerdict(t *testing.T) {
	// A quiet quick run: goroutines 1404, one thread 895, GIL 766,
	// processes 1383 requests/s with 16 clients, a 1.90x ceiling, the
	// server's share of each request's CPU 86% (reachable 1.64x).
	quiet := serverRecorded(quietOne, [4]float64{1404, 895, 766, 1383}, 1.90, 0.05)
	gilParallel := serverRecorded(quietOne, [4]float64{1404, 895, 1350, 1383}, 1.90, 0.05)
	serial := serverRecorded(quietOne, [4]float64{950, 895, 766, 1383}, 1.90, 0.05)
	busySerial := serverRecorded(quietOne, [4]float64{950, 895, 766, 1383}, 1.90, 0.5)
	busyQuiet := serverRecorded(quietOne, [4]float64{1404, 895, 766, 1383}, 1.90, 0.5)
	noGain := serverRecorded(quietOne, [4]float64{450, 440, 420, 430}, 1.90, 0.05)
	procsBetween := serverRecorded(quietOne, [4]float64{1404, 895, 766, 1163}, 1.90, 0.05)
	procsSerial := serverRecorded(quietOne, [4]float64{1404, 895, 766, 985}, 1.90, 0.05)
	between := serverRecorded(quietOne, [4]float64{1160, 895, 766, 1383}, 1.90, 0.05)
	beyond := serverRecorded(quietOne, [4]float64{1970, 895, 766, 1383}, 1.90, 0.05)
	// The slow CPU: 2 threads ran the pure loop only 1.28x faster
	// than one, and the clients' share leaves 1.11x reachable.
	slowCPU := serverRecorded(quietOne, [4]float64{1100, 895, 766, 1080}, 1.28, 0.05)
	checkVerdicts(t, []verdictCase{
		{"quiet", true, "as a share of the 1.64x reachable ceiling (the 1.90x ceiling times 86%, goroutine per request's share of each request's CPU): goroutine per request 1.57x (96%)", func() (bool, string) { return lab.ServerVerdict(quiet) }},
		{"quiet, gil serial", true, "threads + GIL 0.86x (52%)", func() (bool, string) { return lab.ServerVerdict(quiet) }},
		{"quiet, costs", true, "CPU per request: goroutine per request 1200 µs, one OS thread (GOMAXPROCS=1) 1200 µs, process pool 1450 µs", func() (bool, string) { return lab.ServerVerdict(quiet) }},
		// Processes pay for their messages: their figure is reported, not
		// judged.
		{"processes between", true, "process pool 1.30x (79%)", func() (bool, string) { return lab.ServerVerdict(procsBetween) }},
		{"processes serial", true, "process pool 1.10x (67%)", func() (bool, string) { return lab.ServerVerdict(procsSerial) }},
		{"quiet, side by side", true, "from 1 to 16 clients, goroutine per request went from 293 to 1404 requests/s (4.8x", func() (bool, string) { return lab.ServerVerdict(quiet) }},
		{"gil parallel", false, "not reproduced (parallel >= 85% of the ceiling (1.39x), serial <= 73% (1.20x)): threads + GIL ran in parallel", func() (bool, string) { return lab.ServerVerdict(gilParallel) }},
		{"goroutines serial", false, "not reproduced (parallel >= 85% of the ceiling (1.39x), serial <= 73% (1.20x)): goroutine per request stayed serial", func() (bool, string) { return lab.ServerVerdict(serial) }},
		{"goroutines serial on a busy machine", false, "cannot tell in this run: other processes used 50% of the machine's CPUs", func() (bool, string) { return lab.ServerVerdict(busySerial) }},
		{"goroutines serial on a busy machine, what it read", false, "the figures read goroutine per request stayed serial", func() (bool, string) { return lab.ServerVerdict(busySerial) }},
		{"holds on a busy machine", false, "the figures read every mode on its expected side", func() (bool, string) { return lab.ServerVerdict(busyQuiet) }},
		{"no gain", false, "not reproduced: more clients did not get more requests served", func() (bool, string) { return lab.ServerVerdict(noGain) }},
		{"between thresholds", false, "goroutine per request between the thresholds", func() (bool, string) { return lab.ServerVerdict(between) }},
		{"beyond the ceiling", false, "goroutine per request beyond the reachable ceiling (the one-thread run was slowed)", func() (bool, string) { return lab.ServerVerdict(beyond) }},
		{"slow cpu", false, "the reachable ceiling was only 1.11x (under 1.20x)", func() (bool, string) { return lab.ServerVerdict(slowCPU) }},
		{"too few clients", false, "16 clients cannot keep 2 cores busy when each request waits on I/O (at least 20 can)", func() (bool, string) {
			f := quiet
			f.Saturate = 20
			return lab.ServerVerdict(f)
		}},
		{"one load", false, "cannot show with one load", func() (bool, string) {
			f := quiet
			f.Clients = []int{16}
			return lab.ServerVerdict(f)
		}},
		{"three clients", false, "cannot show with 3 clients at most", func() (bool, string) {
			f := quiet
			f.Clients = []int{1, 3}
			f.SetPoint(lab.ServerGoroutines, 3, lab.ServerPoint{Requests: 50, PerSec: 500})
			return lab.ServerVerdict(f)
		}},
		{"missing point", false, "process pool has no throughput with 16 clients", func() (bool, string) {
			f := serverRecorded(quietOne, [4]float64{1404, 895, 766, 0}, 1.90, 0.05)
			return lab.ServerVerdict(f)
		}},
	})
	for _, c := range []struct {
		name string
		f    lab.ServerFigures
		want bool
	}{
		{"quiet", quiet, false}, {"gil parallel", gilParallel, false}, {"serial", serial, false},
		{"processes between", procsBetween, false}, {"processes serial", procsSerial, false},
		{"too few clients", func() lab.ServerFigures { f := quiet; f.Saturate = 20; return f }(), true},
		{"busy serial", busySerial, true}, {"busy", busyQuiet, true}, {"no gain", noGain, false}, {"between", between, true},
		{"beyond", beyond, true}, {"slow cpu", slowCPU, true},
	} {
		if got := lab.ServerInconclusive(c.f); got != c.want {
			t.Errorf("ServerInconclusive(%s) = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestServerRun runs the experiment at tiny sizes: every mode must serve,
// the one-thread server must run with GOMAXPROCS 1 (Run checks), and the
// figures must reach the table and charts.
func TestServerRun(t *testing.T) {
	rep, err := lab.Run(context.Background(), lab.Config{Workers: 2, Params: tinyFor("server")}, "server")
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Experiments[0]
	if r.Ceiling == nil || r.Ceiling.Samples == 0 {
		t.Errorf("no ceiling: %+v", r.Ceiling)
	}
	served := map[string]bool{}
	for _, row := range r.Rows {
		if v, ok := row["req_per_s"].(float64); ok && v > 0 {
			served[row["mode"].(string)] = true
		}
	}
	for _, m := range []string{lab.ServerGoroutines, lab.ServerOneThread, lab.ServerGIL, lab.ServerProcs} {
		if !served[m] {
			t.Errorf("%s served nothing", m)
		}
	}
	t.Logf("holds=%v inconclusive=%v: %s", r.Holds, r.Inconclusive, r.Verdict)
}
