package lab_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"crew/internal/lab"
)

// joinRecorded are the figures of a quiet quick run on the 2-core machine
// (crew lab join --python: 2 workers of 6 items of 20 ms, main ending
// after 2 items).
func joinRecorded() lab.JoinFigures {
	o := func(atEnd, atExit, inAll, running int) lab.JoinOutcome {
		return lab.JoinOutcome{Total: 12, AtEnd: atEnd, AtExit: atExit, InAll: inAll, Running: running}
	}
	return lab.JoinFigures{Workers: 2, Modes: map[string]lab.JoinOutcome{
		lab.JoinGoroutines:      o(2, 2, 2, 0),
		lab.JoinPoolWait:        o(12, 12, 12, 0),
		lab.JoinDetached:        o(2, 2, 12, 2),
		lab.JoinProc:            o(2, 2, 2, 0),
		lab.JoinProcClose:       o(12, 12, 12, 0),
		lab.JoinPyThreads:       o(2, 12, 12, 0),
		lab.JoinPyDaemonThreads: o(2, 2, 2, 0),
		lab.JoinPyProcs:         o(2, 12, 12, 0),
		lab.JoinPyDaemonProcs:   o(2, 2, 2, 0),
	}}
}

// joinWith returns the recorded figures with one mode changed (or removed,
// when change is nil).
func joinWith(mode string, change func(*lab.JoinOutcome)) lab.JoinFigures {
	f := joinRecorded()
	if change == nil {
		delete(f.Modes, mode)
		return f
	}
	o := f.Modes[mode]
	change(&o)
	f.Modes[mode] = o
	return f
}

func TestJoinVerdict(t *testing.T) {
	withoutPython := joinRecorded()
	for _, m := range []string{lab.JoinPyThreads, lab.JoinPyDaemonThreads, lab.JoinPyProcs, lab.JoinPyDaemonProcs} {
		delete(withoutPython.Modes, m)
	}
	checkVerdicts(t, []verdictCase{
		{"recorded", true, "returning from main ended unjoined goroutines mid-work (2 of 12 items done)", func() (bool, string) {
			return lab.JoinVerdict(joinRecorded())
		}},
		{"recorded, python joins", true, "Python joined its non-daemon threads at exit (2 of 12 done when the script ended, 12 when the process exited)", func() (bool, string) {
			return lab.JoinVerdict(joinRecorded())
		}},
		{"without python", true, "proc's Map and Close finished 12 of 12 first", func() (bool, string) {
			return lab.JoinVerdict(withoutPython)
		}},
		{"goroutines survive main", false, "goroutines, main returns: returning from main ended unjoined goroutines mid-work (12 of 12", func() (bool, string) {
			return lab.JoinVerdict(joinWith(lab.JoinGoroutines, func(o *lab.JoinOutcome) { o.InAll = 12 }))
		}},
		{"pool.Wait returns early", false, "pool.Wait finished 9 of 12", func() (bool, string) {
			return lab.JoinVerdict(joinWith(lab.JoinPoolWait, func(o *lab.JoinOutcome) { o.AtEnd, o.AtExit, o.InAll = 9, 9, 9 }))
		}},
		{"detached child dies with parent", false, "detached child processes had 2 of 12 done when main exited, 0 still ran", func() (bool, string) {
			return lab.JoinVerdict(joinWith(lab.JoinDetached, func(o *lab.JoinOutcome) { o.InAll, o.Running = 3, 0 }))
		}},
		{"proc worker outlives main", false, "parent-death signal (12 of 12 done, 2 left running)", func() (bool, string) {
			return lab.JoinVerdict(joinWith(lab.JoinProc, func(o *lab.JoinOutcome) { o.InAll, o.Running = 12, 2 }))
		}},
		{"python drops non-daemon threads", false, "python threads: Python joined", func() (bool, string) {
			return lab.JoinVerdict(joinWith(lab.JoinPyThreads, func(o *lab.JoinOutcome) { o.AtExit, o.InAll = 2, 2 }))
		}},
		{"python keeps daemon threads", false, "dropped its daemon threads (12 of 12)", func() (bool, string) {
			return lab.JoinVerdict(joinWith(lab.JoinPyDaemonThreads, func(o *lab.JoinOutcome) { o.AtExit, o.InAll = 12, 12 }))
		}},
		{"mode missing", false, "proc pool, Map and Close, main returns did not run", func() (bool, string) {
			return lab.JoinVerdict(joinWith(lab.JoinProcClose, nil))
		}},
		// A machine so slow that every item was done before main could end:
		// nothing was left to lose, which proves nothing either way.
		{"slow machine", false, "inconclusive: goroutines, main returns had all its items done", func() (bool, string) {
			return lab.JoinVerdict(joinWith(lab.JoinGoroutines, func(o *lab.JoinOutcome) { o.AtEnd, o.AtExit, o.InAll = 12, 12, 12 }))
		}},
	})
	for _, c := range []struct {
		name string
		f    lab.JoinFigures
		want bool
	}{
		{"recorded", joinRecorded(), false},
		{"slow goroutines", joinWith(lab.JoinGoroutines, func(o *lab.JoinOutcome) { o.AtEnd = 12 }), true},
		{"slow python daemon", joinWith(lab.JoinPyDaemonThreads, func(o *lab.JoinOutcome) { o.AtEnd = 12 }), true},
		{"joined mode done at end", joinWith(lab.JoinPoolWait, func(o *lab.JoinOutcome) { o.AtEnd = 12 }), false},
	} {
		if got := lab.JoinInconclusive(c.f); got != c.want {
			t.Errorf("JoinInconclusive(%s) = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestParseJoinLog(t *testing.T) {
	for _, c := range []struct {
		name      string
		in        string
		items, at int
		pids      []int
		spans     int
		err       string
	}{
		{"empty", "", 0, 0, nil, 1, ""},
		{"whole", "start 1000000000\npid 42\nitem 1 1000000000 1020000000\nend 1030000000\nitem 2 1000000000 1040000000\n", 2, 1, []int{42}, 3, ""},
		{"line being written", "start 1\nitem 1 1 2\nitem 2 1", 1, 0, nil, 2, ""},
		{"shell without nanoseconds", "start 1\nitem 1 %N 5%N\n", 1, 0, nil, 1, ""},
		{"unknown event", "start 1\nstop 2\n", 0, 0, nil, 0, `bad line "stop 2"`},
		{"two ends", "end 1\nend 2\n", 0, 0, nil, 0, "line 2"},
		{"lane zero", "item 0 1 2\n", 0, 0, nil, 0, "bad line"},
		{"pid one", "pid 1\n", 0, 0, nil, 0, "bad line"},
		{"blank line", "start 1\n\n", 0, 0, nil, 0, "line 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, err := lab.ParseJoinLog([]byte(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !strings.HasPrefix(err.Error(), "join: ") {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.Items != c.items || l.AtEnd != c.at || !slices.Equal(l.Pids, c.pids) || len(l.Spans) != c.spans {
				t.Errorf("got %d items, %d at end, pids %v, %d spans; want %d, %d, %v, %d", l.Items, l.AtEnd, l.Pids, len(l.Spans), c.items, c.at, c.pids, c.spans)
			}
		})
	}
}

func FuzzJoinLog(f *testing.F) {
	f.Add([]byte("start 1000\npid 42\nitem 1 1000 2000\nend 3000\nitem 2 1000 4000\n"))
	f.Add([]byte("item 1 %N 5%N\nitem 2"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := lab.ParseJoinLog(b)
		if err != nil {
			return
		}
		if l.AtEnd > l.Items || len(l.Spans) > l.Items+1 {
			t.Errorf("%d items, %d at end, %d spans", l.Items, l.AtEnd, len(l.Spans))
		}
		for _, p := range l.Pids {
			if p < 2 {
				t.Errorf("pid %d accepted", p)
			}
		}
	})
}

// TestJoinRun runs the experiment at quick sizes: its verdict must hold, or
// be inconclusive on a machine too slow for its items.
func TestJoinRun(t *testing.T) {
	rep, err := lab.Run(context.Background(), lab.Config{Workers: 2, Params: map[string]string{"join.items": "4", "join.item": "20ms"}}, "join")
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Experiments[0]
	if !r.Holds && !r.Inconclusive {
		t.Errorf("join does not hold: %s", r.Verdict)
	}
	if len(r.Timelines) != len(r.Rows) {
		t.Errorf("%d timelines for %d modes", len(r.Timelines), len(r.Rows))
	}
}
