package lab

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"crew/internal/child"
	"crew/pool"
	"crew/proc"
)

var joinParams = []Param{{"items", ParamInt}, {"item", ParamDuration}}

var joinExperiment = Experiment{
	Name: "join",
	Claim: "A main thread that does not join its workers ends them with itself: Python waits for non-daemon threads at exit and drops daemon ones, " +
		"while a child process outlives its parent unless something takes it down.",
	Run:    runJoin,
	Params: joinParams,
}

// The join modes: how the main program starts its workers and whether it
// joins them before it ends.
const (
	joinGoroutines = "goroutines, main returns"
	joinPoolWait   = "goroutines, pool.Wait, main returns"
	joinDetached   = "child processes, detached, main returns"
	joinProc       = "proc pool, main returns (parent-death signal)"
	joinProcClose  = "proc pool, Map and Close, main returns"
)

var joinModes = []string{joinGoroutines, joinPoolWait, joinDetached, joinProc, joinProcClose}

// The Python twin's modes, as join.py names them.
const (
	joinPyThreads       = "python threads"
	joinPyDaemonThreads = "python daemon threads"
	joinPyProcs         = "python processes"
	joinPyDaemonProcs   = "python daemon processes"
)

// joinOutcome is what one mode's workers had done at each point of the main
// program's end, counted in items of work.
type joinOutcome struct {
	// Total is how many items the workers were given.
	Total int
	// AtEnd is how many were done when the main program's own code ended
	// (Go: main returns; Python: the script falls off its end).
	AtEnd int
	// AtExit is how many were done when the main program's process had
	// exited and been reaped.
	AtExit int
	// InAll is how many were ever done, counted once nothing ran any more.
	InAll int
	// Running is how many of the mode's worker processes were still running
	// a while (two items' time) after the main program exited.
	Running int
	// MainSeconds is how long the main program's process ran, from its
	// start mark until the parent saw it exit.
	MainSeconds float64
}

// joinFigures are what the join verdict is computed from: one outcome per
// mode, Python's modes only when the twin ran.
type joinFigures struct {
	Workers int
	Modes   map[string]joinOutcome
}

func runJoin(ctx context.Context, cfg Config) (*Result, error) {
	p := newParams("join", joinParams, cfg)
	items := p.Int("items", 6, 10)
	item := p.Duration("item", 20*time.Millisecond, 100*time.Millisecond)
	w := cfg.workers()
	p.used["workers"] = w
	if p.err != nil {
		return nil, p.err
	}
	dir, err := os.MkdirTemp("", "crew-lab-join-")
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	defer os.RemoveAll(dir)

	// Orphans are reparented to the nearest subreaper, else to pid 1; a
	// pid 1 that is no init (a container's) never reaps them. While the
	// experiment runs, lab is that subreaper and reaps the workers the
	// main program left, by their pids, so none lingers as a zombie.
	restore := becomeSubreaper()
	defer restore()

	// The main program is a proc worker: each mode runs as one task that
	// ends its process the way returning from main does.
	var stderr lockedBuffer
	mains, err := proc.New(ctx, proc.WithWorkers(1), proc.WithStderr(&stderr))
	if err != nil {
		return nil, err
	}
	defer mains.Close()

	res := &Result{
		Columns: []string{"mode", "items", "done_at_main_end", "done_at_exit", "done_in_all", "lost", "running_after_main", "main_s"},
		Params:  p.used,
		Charts: []Chart{{Title: "items done by the time the main program had exited", Kind: "bar", X: "mode", Y: "done_at_exit", YLabel: "items done"},
			{Title: "items done in all, once nothing ran any more", Kind: "bar", X: "mode", Y: "done_in_all", YLabel: "items done"}},
	}
	fig := joinFigures{Workers: w, Modes: map[string]joinOutcome{}}
	for i, mode := range joinModes {
		progress(cfg, "lab: join: %s", mode)
		file := filepath.Join(dir, fmt.Sprintf("mode%d.log", i))
		o, spans, err := joinRun(ctx, mains, joinTask{Mode: mode, File: file, Workers: w, Items: items, Item: item, Stop: w})
		if err != nil {
			if s := strings.TrimSpace(stderr.String()); s != "" {
				err = fmt.Errorf("%w (main program's stderr: %s)", err, s)
			}
			return nil, fmt.Errorf("%s: %w", mode, err)
		}
		fig.Modes[mode] = o
		res.Rows = append(res.Rows, joinRow(mode, o))
		res.Timelines = append(res.Timelines, Timeline{Mode: mode, Spans: spans})
	}
	if cfg.Python != "" {
		var out []struct {
			Mode string
			joinOutcome
		}
		if err := runPython(ctx, cfg, "join", &out, strconv.Itoa(items), strconv.Itoa(w), strconv.FormatFloat(item.Seconds(), 'f', -1, 64)); err != nil {
			return nil, err
		}
		for _, r := range out {
			fig.Modes[r.Mode] = r.joinOutcome
			res.Rows = append(res.Rows, joinRow(r.Mode, r.joinOutcome))
		}
		res.Notes = append(res.Notes, "python rows: the same work in a Python main program started as a child process; Python's exit joins non-daemon threads (threading._shutdown) and non-daemon multiprocessing children, and terminates daemon children")
	}
	res.Holds, res.Verdict = joinVerdict(fig)
	res.Inconclusive = joinInconclusive(fig)
	res.Notes = append(res.Notes,
		fmt.Sprintf("each mode: a main program (a proc worker process, so that it can end while lab goes on) starts %d workers of %d items, each item %v of waiting; it ends once %d items are done, by os.Exit(0), which is what returning from main does", w, items, item, w),
		"detached: /bin/sh loops started by internal/child's StartDetached (own process group, no parent-death signal); proc pool: workers get SIGKILL as their parent-death signal when the main program's process ends",
		"done_at_main_end counts items done before the main program's last line; done_at_exit when lab had reaped it; running_after_main the worker processes still alive two items' time after that",
		"timelines: lane 0 is the main program, lanes 1.. its workers; one bar per item")
	return res, nil
}

func joinRow(mode string, o joinOutcome) Row {
	return Row{"mode": mode, "items": o.Total, "done_at_main_end": o.AtEnd, "done_at_exit": o.AtExit, "done_in_all": o.InAll,
		"lost": o.Total - o.InAll, "running_after_main": o.Running, "main_s": o.MainSeconds}
}

// joinTask tells the main program how to start its workers and when to end.
type joinTask struct {
	Mode           string
	File           string
	Workers, Items int
	Item           time.Duration
	// Stop is how many items must be done before the main program ends
	// (without joining, in the modes that do not join).
	Stop int
}

// joinItem is one item of work for a proc pool worker.
type joinItem struct {
	File string
	Item time.Duration
}

// joinRun runs one mode's main program, watches what its workers do after
// it ended, and returns the outcome and a timeline (lane 0: main).
func joinRun(ctx context.Context, mains *proc.Pool, t joinTask) (joinOutcome, []Span, error) {
	f, err := os.Create(t.File)
	if err != nil {
		return joinOutcome{}, nil, err
	}
	f.Close()
	_, err = procJoinMain.Call(ctx, mains, t)
	var ce *proc.CrashError
	if err == nil || !errors.As(err, &ce) || ce.ExitCode != 0 {
		return joinOutcome{}, nil, fmt.Errorf("main program ended with %v, want exit status 0", err)
	}
	exited := time.Now()
	log, err := readJoinLog(t.File)
	if err != nil {
		return joinOutcome{}, nil, err
	}
	o := joinOutcome{Total: t.Workers * t.Items, AtEnd: log.atEnd, AtExit: log.items()}
	if log.end == 0 {
		return joinOutcome{}, nil, errors.New("main program left no end mark")
	}
	// Two items' time after the exit, a worker that outlives its parent is
	// still working; one that was taken down went within milliseconds.
	time.Sleep(time.Until(exited.Add(2 * t.Item)))
	// A pid once found ended is not asked about again: it may since
	// belong to another process, even a child of ours that os/exec waits
	// for.
	ended := map[int]bool{}
	running := func(pid int) bool {
		if !ended[pid] && reap(pid) {
			ended[pid] = true
		}
		return !ended[pid]
	}
	for _, pid := range log.pids {
		if running(pid) {
			o.Running++
		}
	}
	// Then wait until every worker process is gone and no item has been
	// added for three items' time: nothing runs any more.
	deadline := exited.Add(time.Duration(t.Items+10)*t.Item + 2*time.Second)
	last, quiet := log.items(), time.Now()
	for {
		log, err = readJoinLog(t.File)
		if err != nil {
			return joinOutcome{}, nil, err
		}
		alive := 0
		for _, pid := range log.pids {
			if running(pid) {
				alive++
			}
		}
		if n := log.items(); n != last {
			last, quiet = n, time.Now()
		}
		if alive == 0 && time.Since(quiet) >= 3*t.Item {
			break
		}
		if time.Now().After(deadline) {
			return joinOutcome{}, nil, fmt.Errorf("%d worker processes still running %v after the main program ended", alive, time.Since(exited).Round(time.Millisecond))
		}
		if err := sleepCtx(ctx, t.Item/2); err != nil {
			return joinOutcome{}, nil, err
		}
	}
	o.InAll = log.items()
	o.MainSeconds = float64(exited.UnixNano()-log.start) / 1e9
	return o, log.spans(), nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// joinLog is the record the main program and its workers append to a file,
// one line per event: "start NS", "end NS", "pid PID", and "item LANE
// START_NS END_NS" (a worker finished an item; the times may be missing
// where the worker could not tell them).
type joinLog struct {
	start, end int64
	pids       []int
	lanes      []int
	starts     []int64
	ends       []int64
	// atEnd is how many items were recorded before "end".
	atEnd int
}

func (l *joinLog) items() int { return len(l.lanes) }

// spans turns the record into a timeline relative to "start": lane 0 is the
// main program, the others items.
func (l *joinLog) spans() []Span {
	sec := func(ns int64) float64 { return float64(ns-l.start) / 1e9 }
	out := []Span{{Worker: 0, Start: 0, End: sec(l.end)}}
	for i, lane := range l.lanes {
		if l.starts[i] > 0 && l.ends[i] >= l.starts[i] {
			out = append(out, Span{Worker: lane, Start: sec(l.starts[i]), End: sec(l.ends[i])})
		}
	}
	return out
}

func readJoinLog(path string) (*joinLog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseJoinLog(b)
}

// parseJoinLog reads a join record. A last line without its newline is
// being written and is left for the next read; any other line that is not
// one of the events is an error.
func parseJoinLog(b []byte) (*joinLog, error) {
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	l := &joinLog{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		bad := fmt.Errorf("join: record line %d: bad line %q", n, sc.Text())
		if len(f) == 0 {
			return nil, bad
		}
		num := func(i int) (int64, bool) {
			if i >= len(f) {
				return 0, false
			}
			v, err := strconv.ParseInt(f[i], 10, 64)
			return v, err == nil && v >= 0
		}
		switch {
		case f[0] == "start" && len(f) == 2:
			v, ok := num(1)
			if !ok {
				return nil, bad
			}
			l.start = v
		case f[0] == "end" && len(f) == 2:
			v, ok := num(1)
			if !ok || l.end != 0 {
				return nil, bad
			}
			l.end, l.atEnd = v, len(l.lanes)
		case f[0] == "pid" && len(f) == 2:
			v, ok := num(1)
			if !ok || v < 2 || v > 1<<22 {
				return nil, bad
			}
			l.pids = append(l.pids, int(v))
		case f[0] == "item" && len(f) >= 2 && len(f) <= 4:
			lane, ok := num(1)
			if !ok || lane < 1 || lane > 1<<16 {
				return nil, bad
			}
			// A shell without nanosecond dates writes something else: the
			// item still counts, it only has no bar on the timeline.
			s, _ := num(2)
			e, _ := num(3)
			l.lanes, l.starts, l.ends = append(l.lanes, int(lane)), append(l.starts, s), append(l.ends, e)
		default:
			return nil, bad
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("join: record: %w", err)
	}
	return l, nil
}

// appendLine appends one line to the record at path in a single write, so
// lines from several processes never interleave.
func appendLine(path, format string, args ...any) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, format+"\n", args...)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// doItem waits one item's time and records it on lane.
func doItem(path string, lane int, d time.Duration) error {
	s := time.Now()
	time.Sleep(d)
	return appendLine(path, "item %d %d %d", lane, s.UnixNano(), time.Now().UnixNano())
}

// joinShell is a worker process that outlives its parent: a loop of items,
// each recorded with GNU date's nanoseconds where date has them.
const joinShell = `f=$1 lane=$2 n=$3 d=$4 i=0
while [ "$i" -lt "$n" ]; do
	s=$(date +%s%N)
	sleep "$d"
	echo "item $lane $s $(date +%s%N)" >>"$f"
	i=$((i+1))
done`

// procJoinItem is one item run by a proc pool worker of the main program.
var procJoinItem = proc.Register("lab.join.item", func(ctx context.Context, in joinItem) (int, error) {
	return 0, doItem(in.File, proc.WorkerID(ctx), in.Item)
})

// procJoinMain is the main program of one join mode. It never returns: it
// ends its process with os.Exit(0), as Go does when main returns, so
// whatever its workers have not finished by then is what main's end cost.
var procJoinMain = proc.Register("lab.join.main", func(ctx context.Context, t joinTask) (int, error) {
	if err := appendLine(t.File, "start %d", time.Now().UnixNano()); err != nil {
		return 0, err
	}
	if err := joinMain(ctx, t); err != nil {
		return 0, err
	}
	if err := appendLine(t.File, "end %d", time.Now().UnixNano()); err != nil {
		return 0, err
	}
	if raceDetector {
		// The race runtime's exit sleeps a second first (GORACE's
		// atexit_sleep_ms), and the goroutines run on meanwhile; a plain
		// build's exit, like returning from main, does not wait.
		unix.Exit(0)
	}
	os.Exit(0)
	return 0, nil
})

// joinMain starts the workers of mode t.Mode and returns when the main
// program may end: at once after joining in the joining modes, after t.Stop
// items in the others.
func joinMain(ctx context.Context, t joinTask) error {
	switch t.Mode {
	case joinGoroutines:
		for lane := 1; lane <= t.Workers; lane++ {
			go func() {
				for range t.Items {
					if doItem(t.File, lane, t.Item) != nil {
						return
					}
				}
			}()
		}
	case joinPoolWait:
		p, err := pool.New(t.Workers)
		if err != nil {
			return err
		}
		for range t.Workers {
			if err := p.Go(func(ctx context.Context) error {
				for range t.Items {
					if err := doItem(t.File, pool.WorkerID(ctx), t.Item); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				return err
			}
		}
		return p.Wait()
	case joinDetached:
		for lane := 1; lane <= t.Workers; lane++ {
			cmd := exec.Command("/bin/sh", "-c", joinShell, "sh", t.File, strconv.Itoa(lane), strconv.Itoa(t.Items),
				strconv.FormatFloat(t.Item.Seconds(), 'f', -1, 64))
			pid, err := child.StartDetached(cmd)
			if err != nil {
				return err
			}
			if err := appendLine(t.File, "pid %d", pid); err != nil {
				return err
			}
		}
	case joinProc, joinProcClose:
		// WithPrefetch(0): each worker takes an item only when free, so the
		// items spread evenly and the two modes run the same schedule.
		p, err := proc.New(ctx, proc.WithWorkers(t.Workers), proc.WithPrefetch(0))
		if err != nil {
			return err
		}
		for _, pid := range p.PIDs() {
			if err := appendLine(t.File, "pid %d", pid); err != nil {
				return err
			}
		}
		ins := make([]joinItem, t.Workers*t.Items)
		for i := range ins {
			ins[i] = joinItem{File: t.File, Item: t.Item}
		}
		if t.Mode == joinProcClose {
			if _, err := procJoinItem.Map(ctx, p, ins, proc.WithChunk(1)); err != nil {
				return err
			}
			return p.Close()
		}
		go func() { _, _ = procJoinItem.Map(ctx, p, ins, proc.WithChunk(1)) }()
	default:
		return fmt.Errorf("join: unknown mode %q", t.Mode)
	}
	return waitItems(ctx, t.File, t.Stop, time.Duration(t.Items+10)*t.Item+10*time.Second)
}

// waitItems returns once the record at path holds n items.
func waitItems(ctx context.Context, path string, n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		l, err := readJoinLog(path)
		if err != nil {
			return err
		}
		if l.items() >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("join: %d of %d items after %v", l.items(), n, limit)
		}
		if err := sleepCtx(ctx, time.Millisecond); err != nil {
			return err
		}
	}
}

var subreaperMu sync.Mutex

// becomeSubreaper makes this process the subreaper of its descendants'
// orphans and returns the function that restores the previous setting. It
// does nothing where prctl refuses.
func becomeSubreaper() func() {
	subreaperMu.Lock()
	var was int32
	// PR_GET_CHILD_SUBREAPER writes a C int through its pointer argument.
	if err := unix.Prctl(unix.PR_GET_CHILD_SUBREAPER, uintptr(unsafe.Pointer(&was)), 0, 0, 0); err != nil {
		subreaperMu.Unlock()
		return func() {}
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		subreaperMu.Unlock()
		return func() {}
	}
	return func() {
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, uintptr(was), 0, 0, 0)
		subreaperMu.Unlock()
	}
}

// reap reports whether process pid has ended, reaping it if it became our
// child (an orphan handed to this subreaper). A pid that is not our child
// is judged from /proc: gone, or a zombie, counts as ended.
func reap(pid int) bool {
	var ws unix.WaitStatus
	got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	switch {
	case err == nil && got == pid:
		return true
	case err == nil:
		return false // our child, still running
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
}

// joinEarly are the modes whose main program ends without joining: they
// show something only if work was left when it ended.
var joinEarly = []string{joinGoroutines, joinDetached, joinProc, joinPyThreads, joinPyDaemonThreads, joinPyProcs, joinPyDaemonProcs}

// joinVerdict holds when main's return ended unjoined goroutines mid-work,
// detached child processes finished their work after it, a proc pool's
// workers died with it, and pool.Wait and proc's Map and Close finished
// every item before it; and, when the Python twin ran, Python joined its
// non-daemon threads and processes at exit and dropped its daemon ones.
func joinVerdict(f joinFigures) (bool, string) {
	if early := joinNothingLeft(f); early != "" {
		return false, fmt.Sprintf("inconclusive: %s had all its items done before the main program ended, so its end could not cut any work short (items too short for this machine? raise join.item)", early)
	}
	var seen, bad []string
	check := func(mode string, ok func(joinOutcome) bool, format string, args func(joinOutcome) []any) {
		o, ran := f.Modes[mode]
		if !ran {
			if !strings.HasPrefix(mode, "python") {
				bad = append(bad, mode+" did not run")
			}
			return
		}
		s := fmt.Sprintf(format, args(o)...)
		if ok(o) {
			seen = append(seen, s)
		} else {
			bad = append(bad, mode+": "+s)
		}
	}
	check(joinGoroutines, func(o joinOutcome) bool { return o.InAll < o.Total },
		"returning from main ended unjoined goroutines mid-work (%d of %d items done)",
		func(o joinOutcome) []any { return []any{o.InAll, o.Total} })
	check(joinPoolWait, func(o joinOutcome) bool { return o.AtEnd == o.Total && o.InAll == o.Total },
		"pool.Wait finished %d of %d before main returned",
		func(o joinOutcome) []any { return []any{o.AtEnd, o.Total} })
	check(joinDetached, func(o joinOutcome) bool { return o.AtExit < o.Total && o.InAll == o.Total && o.Running > 0 },
		"detached child processes had %d of %d done when main exited, %d still ran after it and finished all %d",
		func(o joinOutcome) []any { return []any{o.AtExit, o.Total, o.Running, o.InAll} })
	check(joinProc, func(o joinOutcome) bool { return o.InAll < o.Total && o.Running == 0 },
		"a proc pool's workers died with main by their parent-death signal (%d of %d done, %d left running)",
		func(o joinOutcome) []any { return []any{o.InAll, o.Total, o.Running} })
	check(joinProcClose, func(o joinOutcome) bool { return o.AtEnd == o.Total && o.InAll == o.Total && o.Running == 0 },
		"proc's Map and Close finished %d of %d first",
		func(o joinOutcome) []any { return []any{o.AtEnd, o.Total} })
	check(joinPyThreads, func(o joinOutcome) bool { return o.AtEnd < o.Total && o.AtExit == o.Total },
		"Python joined its non-daemon threads at exit (%d of %d done when the script ended, %d when the process exited)",
		func(o joinOutcome) []any { return []any{o.AtEnd, o.Total, o.AtExit} })
	check(joinPyDaemonThreads, func(o joinOutcome) bool { return o.InAll < o.Total },
		"dropped its daemon threads (%d of %d)",
		func(o joinOutcome) []any { return []any{o.InAll, o.Total} })
	check(joinPyProcs, func(o joinOutcome) bool { return o.AtEnd < o.Total && o.AtExit == o.Total },
		"joined non-daemon processes too (%d of %d at exit)",
		func(o joinOutcome) []any { return []any{o.AtExit, o.Total} })
	check(joinPyDaemonProcs, func(o joinOutcome) bool { return o.InAll < o.Total && o.Running == 0 },
		"and terminated daemon processes (%d of %d)",
		func(o joinOutcome) []any { return []any{o.InAll, o.Total} })
	if len(bad) > 0 {
		return false, "not reproduced: " + strings.Join(bad, "; ") + "; as expected: " + cmp.Or(strings.Join(seen, "; "), "nothing")
	}
	return true, strings.Join(seen, "; ")
}

// joinNothingLeft names the first mode that should have ended early but
// found every item done, or "".
func joinNothingLeft(f joinFigures) string {
	for _, m := range joinEarly {
		if o, ok := f.Modes[m]; ok && o.Total > 0 && o.AtEnd >= o.Total {
			return m
		}
	}
	return ""
}

// joinInconclusive reports that the figures cannot show the claim either
// way: a mode meant to end early had no work left to lose.
func joinInconclusive(f joinFigures) bool { return joinNothingLeft(f) != "" }
