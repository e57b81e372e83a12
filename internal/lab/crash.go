package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"crew/proc"
)

var crashParams = []Param{{"tasks", ParamInt}, {"work", ParamDuration}}

var crashExperiment = Experiment{
	Name:   "crash",
	Claim:  "A failing thread can take its whole process down, while a failing process does not spread: kill it and the others go on.",
	Run:    runCrash,
	Params: crashParams,
}

// crashFigures are what the crash verdict is computed from.
type crashFigures struct {
	// PanicExit is the exit status of the process whose goroutine panicked,
	// PanicText whether its stderr showed the panic.
	PanicExit int
	PanicText bool
	// Tasks, OK and Crashed count the pool's tasks; Want is how many were
	// meant to crash; After reports that the pool served a call afterwards.
	Tasks, OK, Crashed, Want int
	After                    bool
}

// lockedBuffer is a bytes.Buffer safe for the pool's output copier.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func runCrash(ctx context.Context, cfg Config) (*Result, error) {
	p := newParams("crash", crashParams, cfg)
	tasks := p.Int("tasks", 12, 40)
	work := p.Duration("work", 10*time.Millisecond, 20*time.Millisecond)
	w := cfg.workers()
	if p.err != nil {
		return nil, p.err
	}
	res := &Result{
		Columns: []string{"mode", "tasks", "ok", "crashed", "exit_status", "detail"},
		Params:  p.used,
	}
	fig := crashFigures{PanicExit: -1}

	// One worker process whose goroutine panics: the whole process goes.
	var stderr lockedBuffer
	pool, err := proc.New(ctx, proc.WithWorkers(1), proc.WithStderr(&stderr))
	if err != nil {
		return nil, err
	}
	_, err = procCrash.Call(ctx, pool, crashTask{I: 1, Do: "goroutine-panic"})
	pool.Close()
	var ce *proc.CrashError
	if !errors.As(err, &ce) {
		return nil, fmt.Errorf("a goroutine panic in a worker gave %v, want a crash", err)
	}
	fig.PanicExit = ce.ExitCode
	line := firstLine(stderr.String(), "panic: ")
	fig.PanicText = line != ""
	res.Rows = append(res.Rows, Row{"mode": "goroutine panics inside a process", "tasks": 1, "ok": 0, "crashed": 1,
		"exit_status": ce.ExitCode, "detail": line})

	// A pool whose tasks 3 and 7 exit or get SIGKILLed: the rest finish.
	pool, err = proc.New(ctx, proc.WithWorkers(w), proc.WithStderr(&stderr))
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	fig.Tasks = tasks
	var (
		mu       sync.Mutex
		statuses []string
		wg       sync.WaitGroup
	)
	for i := range tasks {
		do := ""
		switch i {
		case 3:
			do = "exit"
		case 7:
			do = "kill"
		}
		if do != "" {
			fig.Want++
		}
		wg.Go(func() {
			out, err := procCrash.Call(ctx, pool, crashTask{I: i, Do: do, Sleep: work})
			mu.Lock()
			defer mu.Unlock()
			var ce *proc.CrashError
			switch {
			case err == nil && out == i*i:
				fig.OK++
			case errors.As(err, &ce):
				fig.Crashed++
				statuses = append(statuses, fmt.Sprintf("task %d: %v", i, ce))
			}
		})
	}
	wg.Wait()
	_, err = procPing.Call(ctx, pool, 0)
	fig.After = err == nil
	res.Rows = append(res.Rows, Row{"mode": "worker processes exit / are killed", "tasks": tasks, "ok": fig.OK,
		"crashed": fig.Crashed, "exit_status": "3 / SIGKILL", "detail": strings.Join(statuses, "; ")})
	res.Holds, res.Verdict = crashVerdict(fig)
	res.Notes = []string{
		"a Go panic that no recover catches ends the whole process with exit status 2, whichever goroutine it is in; the first row ran it in a worker process so that lab survives",
		fmt.Sprintf("in the second row task 3 calls os.Exit(3) and task 7 sends itself SIGKILL; the pool of %d replaces the dead workers", w),
	}
	return res, nil
}

// firstLine returns the first line of s that contains substr, without the
// pool's "[worker N] " prefix.
func firstLine(s, substr string) string {
	for l := range strings.Lines(s) {
		if i := strings.Index(l, substr); i >= 0 {
			return strings.TrimSpace(l[i:])
		}
	}
	return ""
}

// crashVerdict holds when the panicking goroutine's process exited with
// status 2 and said why, and in the pool only the tasks meant to crash
// failed, the others finished and the pool went on serving.
func crashVerdict(f crashFigures) (bool, string) {
	var bad []string
	if f.PanicExit != 2 {
		bad = append(bad, fmt.Sprintf("the panicking process exited with %d, want 2", f.PanicExit))
	}
	if !f.PanicText {
		bad = append(bad, "no panic text on its stderr")
	}
	if f.Crashed != f.Want || f.OK != f.Tasks-f.Want {
		bad = append(bad, fmt.Sprintf("%d of %d tasks finished and %d crashed, want %d crashed", f.OK, f.Tasks, f.Crashed, f.Want))
	}
	if !f.After {
		bad = append(bad, "the pool did not serve a call afterwards")
	}
	if len(bad) > 0 {
		return false, "not reproduced: " + strings.Join(bad, "; ")
	}
	return true, fmt.Sprintf("a panic in one goroutine killed its whole process (exit status 2); in the pool %d worker crashes failed only their own tasks, the other %d finished and the pool went on serving",
		f.Crashed, f.OK)
}
