package proc_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"crew/internal/testproc"
	"crew/internal/wait"
	"crew/proc"
)

// blockIn drives block: it marks Dir/started, then either waits for its
// context (and marks Dir/canceled) or, with IgnoreCtx, never returns.
type blockIn struct {
	Dir       string
	IgnoreCtx bool
}

var (
	block = proc.Register("block", func(ctx context.Context, in blockIn) (int, error) {
		os.WriteFile(filepath.Join(in.Dir, "started"), nil, 0o644)
		if in.IgnoreCtx {
			select {}
		}
		<-ctx.Done()
		os.WriteFile(filepath.Join(in.Dir, "canceled"), nil, 0o644)
		return 0, ctx.Err()
	})
	// gated returns its path once the file exists.
	gated = proc.Register("gated", func(ctx context.Context, path string) (string, error) {
		for {
			if _, err := os.Stat(path); err == nil {
				return path, nil
			}
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
	})
	// nap sleeps ms milliseconds, ignoring its context.
	nap = proc.Register("nap", func(_ context.Context, ms int) (int, error) {
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return ms, nil
	})
)

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestSubmitWait(t *testing.T) {
	p := newPool(t, proc.WithWorkers(2))
	ctx := context.Background()
	fi, err := add1.Submit(ctx, p, 41)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := upper.Submit(ctx, p, "abc")
	if err != nil {
		t.Fatal(err)
	}
	fe, err := failIf.Submit(ctx, p, -2)
	if err != nil {
		t.Fatal(err)
	}
	<-fi.Done()
	for range 2 { // a second Wait returns the same
		if got, err := fi.Wait(ctx); got != 42 || err != nil {
			t.Fatalf("add1: %d, %v", got, err)
		}
	}
	if got, err := fs.Wait(ctx); got != "ABC" || err != nil {
		t.Fatalf("upper: %q, %v", got, err)
	}
	var re *proc.RemoteError
	if _, err := fe.Wait(ctx); !errors.As(err, &re) || re.Msg != "negative -2" {
		t.Fatalf("failIf: %v", err)
	}
	if err := fe.Err(); !errors.As(err, &re) {
		t.Fatalf("Err() = %v, want the RemoteError", err)
	}
	if fi.Err() != nil || fi.Cancel() {
		t.Fatalf("a done call: Err %v, or Cancel reported a cancel", fi.Err())
	}
	// A Wait that gives up leaves the call running.
	dir := t.TempDir()
	fg, err := gated.Submit(ctx, p, filepath.Join(dir, "gate"))
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := fg.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait past its ctx: %v", err)
	}
	if fg.Err() != nil {
		t.Fatalf("Err of a running call = %v, want nil", fg.Err())
	}
	os.WriteFile(filepath.Join(dir, "gate"), nil, 0o644)
	if got, err := fg.Wait(ctx); err != nil || got != filepath.Join(dir, "gate") {
		t.Fatalf("gated after the gate opened: %q, %v", got, err)
	}
	var nilF *proc.Future[int]
	if _, err := nilF.Wait(ctx); err == nil || nilF.Err() == nil || nilF.Cancel() {
		t.Fatal("a nil Future did not fail")
	}
	<-nilF.Done()
}

// TestFutureCancel cancels a running call: without WithKillOnCancel the
// function's context is cancelled in the same worker; with it, a function
// that ignores its context is killed with its worker, which is replaced.
func TestFutureCancel(t *testing.T) {
	tests := []struct {
		name string
		kill bool
	}{
		{"cancel request", false},
		{"kill on cancel", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []proc.Option{proc.WithWorkers(1), proc.WithStderr(nil)}
			if tt.kill {
				opts = append(opts, proc.WithKillOnCancel())
			}
			p := newPool(t, opts...)
			ctx := context.Background()
			pid := p.PIDs()[0]
			dir := t.TempDir()
			fu, err := block.Submit(ctx, p, blockIn{Dir: dir, IgnoreCtx: tt.kill})
			if err != nil {
				t.Fatal(err)
			}
			wait.For(t, "the call to start", func() bool { return exists(filepath.Join(dir, "started")) })
			if !fu.Cancel() {
				t.Fatal("Cancel of a running call reported nothing to cancel")
			}
			if fu.Cancel() {
				t.Fatal("a second Cancel reported a cancel")
			}
			if _, err := fu.Wait(ctx); !errors.Is(err, proc.ErrCanceled) {
				t.Fatalf("Wait after Cancel: %v, want ErrCanceled", err)
			}
			if tt.kill {
				wait.For(t, "the worker to be killed", func() bool { return !testproc.Alive(pid) })
				wait.For(t, "a replacement worker", func() bool {
					pids := p.PIDs()
					return len(pids) == 1 && pids[0] != pid
				})
			} else {
				wait.For(t, "the function's context to be cancelled", func() bool { return exists(filepath.Join(dir, "canceled")) })
				if !testproc.Alive(pid) || !slices.Equal(p.PIDs(), []int{pid}) {
					t.Fatalf("worker %d replaced by %v; a cancel request should leave it", pid, p.PIDs())
				}
			}
			got, err := getpid.Call(ctx, p, 0)
			if err != nil || got != p.PIDs()[0] {
				t.Fatalf("a call after the cancel: pid %d, %v; want %v", got, err, p.PIDs())
			}
		})
	}
}

// A cancelled call that is still queued is never run; the calls queued
// behind a killed one run on the replacement.
func TestCancelQueued(t *testing.T) {
	p := newPool(t, proc.WithWorkers(1), proc.WithPrefetch(2), proc.WithKillOnCancel(), proc.WithStderr(nil))
	ctx := context.Background()
	run, skipped := t.TempDir(), t.TempDir()
	first, err := block.Submit(ctx, p, blockIn{Dir: run, IgnoreCtx: true})
	if err != nil {
		t.Fatal(err)
	}
	second, err := block.Submit(ctx, p, blockIn{Dir: skipped, IgnoreCtx: true})
	if err != nil {
		t.Fatal(err)
	}
	third, err := add1.Submit(ctx, p, 1)
	if err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the first call to start", func() bool { return exists(filepath.Join(run, "started")) })
	if !second.Cancel() {
		t.Fatal("Cancel of a queued call reported nothing to cancel")
	}
	if _, err := second.Wait(ctx); !errors.Is(err, proc.ErrCanceled) {
		t.Fatalf("queued call after Cancel: %v", err)
	}
	pid := p.PIDs()[0]
	first.Cancel()
	if got, err := third.Wait(ctx); got != 2 || err != nil {
		t.Fatalf("the call behind the killed one: %d, %v", got, err)
	}
	if testproc.Alive(pid) {
		t.Fatalf("worker %d still alive", pid)
	}
	if exists(filepath.Join(skipped, "started")) {
		t.Fatal("the cancelled queued call ran")
	}
}

// Submit's context bounds the call: its end cancels the call, and the
// error says both.
func TestSubmitContext(t *testing.T) {
	p := newPool(t, proc.WithWorkers(1))
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	fu, err := block.Submit(ctx, p, blockIn{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the call to start", func() bool { return exists(filepath.Join(dir, "started")) })
	cancel()
	_, err = fu.Wait(context.Background())
	if !errors.Is(err, proc.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrCanceled and context.Canceled", err)
	}
	wait.For(t, "the function's context to be cancelled", func() bool { return exists(filepath.Join(dir, "canceled")) })
	if _, err := add1.Submit(ctx, p, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Submit with an ended context: %v", err)
	}
	if _, err := add1.Submit(context.Background(), nil, 1); !errors.Is(err, proc.ErrClosed) {
		t.Fatalf("Submit to a nil pool: %v", err)
	}
}

// AsCompleted yields calls of different functions in the order they
// complete, not the order they were submitted.
func TestAsCompleted(t *testing.T) {
	// No prefetch: a worker holding the gated call must not hold the
	// fast one queued behind it.
	p := newPool(t, proc.WithWorkers(2), proc.WithPrefetch(0))
	ctx := context.Background()
	gate := filepath.Join(t.TempDir(), "gate")
	slow, err := gated.Submit(ctx, p, gate)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := add1.Submit(ctx, p, 1)
	if err != nil {
		t.Fatal(err)
	}
	var order []proc.Handle
	for h := range proc.AsCompleted(ctx, slow, nil, fast) {
		order = append(order, h)
		if h == fast {
			os.WriteFile(gate, nil, 0o644) // only now may slow complete
		}
	}
	if len(order) != 2 || order[0] != fast || order[1] != slow {
		t.Fatalf("order %v, want fast (%p) then slow (%p)", order, fast, slow)
	}
	if got, err := slow.Wait(ctx); got != gate || err != nil {
		t.Fatalf("slow: %q, %v", got, err)
	}

	// A ctx that ends first ends the sequence early.
	never, err := gated.Submit(ctx, p, filepath.Join(t.TempDir(), "never"))
	if err != nil {
		t.Fatal(err)
	}
	defer never.Cancel()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	n := 0
	for range proc.AsCompleted(short, fast, never) {
		n++
	}
	if n != 1 || short.Err() == nil {
		t.Fatalf("%d yielded, ctx %v; want 1 and an ended ctx", n, short.Err())
	}
}

func TestWaitModes(t *testing.T) {
	p := newPool(t, proc.WithWorkers(2), proc.WithPrefetch(0)) // as in TestAsCompleted
	ctx := context.Background()
	dir := t.TempDir()
	submit := func(t *testing.T, what string) proc.Handle {
		t.Helper()
		var h proc.Handle
		var err error
		switch what {
		case "ok":
			h, err = add1.Submit(ctx, p, 1)
		case "fail":
			h, err = failIf.Submit(ctx, p, -1)
		case "gated":
			h, err = gated.Submit(ctx, p, filepath.Join(dir, "gate"))
		}
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	tests := []struct {
		mode          proc.WaitMode
		calls         []string
		ctxTimeout    time.Duration
		done, pending []int // indexes into calls
		err           error
	}{
		{proc.FirstCompleted, []string{"gated", "ok"}, 0, []int{1}, []int{0}, nil},
		{proc.FirstError, []string{"ok", "gated", "fail"}, 0, []int{0, 2}, []int{1}, nil},
		{proc.FirstError, []string{"ok", "ok"}, 0, []int{0, 1}, nil, nil},
		{proc.AllCompleted, []string{"ok", "fail", "ok"}, 0, []int{0, 1, 2}, nil, nil},
		{proc.AllCompleted, []string{"ok", "gated"}, 100 * time.Millisecond, []int{0}, []int{1}, context.DeadlineExceeded},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			var hs []proc.Handle
			for _, c := range tt.calls {
				hs = append(hs, submit(t, c))
			}
			defer func() {
				for _, h := range hs {
					h.Cancel()
				}
			}()
			wctx := ctx
			if tt.ctxTimeout > 0 {
				var cancel context.CancelFunc
				wctx, cancel = context.WithTimeout(ctx, tt.ctxTimeout)
				defer cancel()
			}
			if tt.mode != proc.AllCompleted {
				// Let the quick calls all finish, so the split is certain.
				for j, c := range tt.calls {
					if c != "gated" {
						<-hs[j].Done()
					}
				}
			}
			done, pending, err := proc.Wait(wctx, tt.mode, hs...)
			if !errors.Is(err, tt.err) {
				t.Errorf("err = %v, want %v", err, tt.err)
			}
			pick := func(idx []int) []proc.Handle {
				var out []proc.Handle
				for _, j := range idx {
					out = append(out, hs[j])
				}
				return out
			}
			if !slices.Equal(done, pick(tt.done)) || !slices.Equal(pending, pick(tt.pending)) {
				t.Errorf("done %v pending %v, want %v and %v", done, pending, tt.done, tt.pending)
			}
		})
	}
	if _, _, err := proc.Wait(ctx, proc.WaitMode(0)); err == nil {
		t.Error("Wait with mode 0 succeeded")
	}
	if done, pending, err := proc.Wait(ctx, proc.FirstCompleted); done != nil || pending != nil || err != nil {
		t.Errorf("Wait of nothing: %v %v %v", done, pending, err)
	}
}

// WithCallTimeout replaces the pool's limit for one call or one map.
func TestCallTimeout(t *testing.T) {
	tests := []struct {
		name     string
		pool     time.Duration // 0: none
		call     []proc.CallOption
		ms       int
		timedOut bool
	}{
		{"call limit, no pool limit", 0, []proc.CallOption{proc.WithCallTimeout(100 * time.Millisecond)}, 5000, true},
		{"call limit shorter than the pool's", 5 * time.Second, []proc.CallOption{proc.WithCallTimeout(100 * time.Millisecond)}, 5000, true},
		{"call limit longer than the pool's", 100 * time.Millisecond, []proc.CallOption{proc.WithCallTimeout(5 * time.Second)}, 300, false},
		{"zero lifts the pool's", 100 * time.Millisecond, []proc.CallOption{proc.WithCallTimeout(0)}, 300, false},
		{"pool limit alone", 100 * time.Millisecond, nil, 5000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []proc.Option{proc.WithWorkers(1), proc.WithStderr(nil)}
			if tt.pool > 0 {
				opts = append(opts, proc.WithTimeout(tt.pool))
			}
			p := newPool(t, opts...)
			before := p.PIDs()
			got, err := nap.Call(context.Background(), p, tt.ms, tt.call...)
			if tt.timedOut {
				if !errors.Is(err, proc.ErrTimeout) {
					t.Fatalf("err = %v, want ErrTimeout", err)
				}
				wait.For(t, "the worker to be replaced", func() bool {
					pids := p.PIDs()
					return len(pids) == 1 && pids[0] != before[0]
				})
				return
			}
			if err != nil || got != tt.ms {
				t.Fatalf("got %d, %v; want %d", got, err, tt.ms)
			}
		})
	}
	p := newPool(t, proc.WithWorkers(2), proc.WithStderr(nil))
	_, err := nap.Map(context.Background(), p, []int{1, 5000, 1}, proc.WithCallTimeout(200*time.Millisecond))
	if !errors.Is(err, proc.ErrTimeout) || !errContains(err, "input 1:") {
		t.Fatalf("Map: %v, want input 1's ErrTimeout", err)
	}
	if _, err := nap.Call(context.Background(), p, 1, proc.WithCallTimeout(-time.Second)); err == nil {
		t.Fatal("a negative WithCallTimeout was accepted")
	}
}

type initArg struct {
	Greeting string
	N        int
}

var (
	initGot  initArg
	setupArg = proc.Register("setupArg", func(_ context.Context, a initArg) (int, error) {
		if a.N < 0 {
			return 0, fmt.Errorf("bad N %d", a.N)
		}
		initGot = a
		return 0, nil
	})
	readArg = proc.Register("readArg", func(context.Context, int) (initArg, error) { return initGot, nil })
)

func TestInitializerArg(t *testing.T) {
	arg := initArg{Greeting: "héllo", N: 7}
	p := newPool(t, proc.WithWorkers(2), proc.WithInitializerArg(setupArg, arg), proc.WithStderr(nil))
	ctx := context.Background()
	check := func(what string) {
		t.Helper()
		got, err := readArg.Map(ctx, p, make([]int, 20))
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range got {
			if g != arg {
				t.Fatalf("%s: a worker's initializer got %+v, want %+v", what, g, arg)
			}
		}
	}
	check("first workers")
	crash.Call(ctx, p, "exit3")
	check("after a replacement")

	argv := testproc.Argv("fake-worker")
	bad := []struct {
		name string
		opts []proc.Option
	}{
		{"nil function", []proc.Option{proc.WithInitializerArg[int, int](nil, 1)}},
		{"empty name", []proc.Option{proc.WithInitializer("")}},
		{"initializer fails", []proc.Option{proc.WithInitializerArg(setupArg, initArg{N: -1})}},
		{"with a foreign worker", []proc.Option{proc.WithInitializerArg(setupArg, arg), proc.WithCommand(argv[0], argv[1:]...)}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]proc.Option{proc.WithWorkers(1), proc.WithStderr(nil)}, tt.opts...)
			p, err := proc.New(ctx, opts...)
			if err == nil {
				p.Close()
				t.Fatal("New succeeded")
			}
		})
	}
}

func TestProgress(t *testing.T) {
	p := newPool(t, proc.WithWorkers(2))
	ctx := context.Background()
	type call struct{ done, total int }
	tests := []struct {
		name  string
		run   func(progress proc.CallOption) error
		total int
	}{
		{"Map", func(pr proc.CallOption) error {
			_, err := add1.Map(ctx, p, make([]int, 1000), proc.WithChunk(10), pr)
			return err
		}, 1000},
		{"Map with failures", func(pr proc.CallOption) error {
			_, err := failIf.Map(ctx, p, []int{1, -1, 2, 3}, pr)
			if err == nil {
				return errors.New("no error")
			}
			return nil
		}, 4},
		{"Stream", func(pr proc.CallOption) error {
			for r := range add1.Stream(ctx, p, slices.Values(make([]int, 1000)), proc.WithChunk(10), pr) {
				if r.Err != nil {
					return r.Err
				}
			}
			return nil
		}, 1000},
		{"MapUnordered", func(pr proc.CallOption) error {
			for r := range add1.MapUnordered(ctx, p, slices.Values(make([]int, 1000)), proc.WithChunk(10), pr) {
				if r.Err != nil {
					return r.Err
				}
			}
			return nil
		}, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []call
			err := tt.run(proc.WithProgress(func(done, total int) { calls = append(calls, call{done, total}) }))
			if err != nil {
				t.Fatal(err)
			}
			if len(calls) == 0 {
				t.Fatal("no progress reported")
			}
			want := tt.total
			if tt.name == "Stream" || tt.name == "MapUnordered" {
				want = -1
			}
			for i, c := range calls {
				if c.total != want || (i > 0 && c.done <= calls[i-1].done) {
					t.Fatalf("call %d: %+v after %v; want rising counts out of %d", i, c, calls[:i], want)
				}
			}
			if last := calls[len(calls)-1].done; last != tt.total && tt.name != "Map with failures" {
				t.Fatalf("last progress %d, want %d", last, tt.total)
			}
		})
	}
}

// Cancels that arrive while the sender is writing to the worker must not
// be lost: every call here waits for its context, so one lost cancel
// leaves its worker busy for ever and Close never returns.
func TestCancelNotLost(t *testing.T) {
	p, err := proc.New(context.Background(), proc.WithWorkers(2), proc.WithPrefetch(4))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	dir := t.TempDir()
	// Submit blocks once the queue is full behind workers that are stuck.
	ctx, cancel := context.WithTimeout(context.Background(), wait.Timeout)
	defer cancel()
	for range 300 {
		fu, err := block.Submit(ctx, p, blockIn{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		fu.Cancel()
	}
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait.Timeout):
		// Kill the stuck workers so that Close, and the test, can end.
		for _, pid := range p.PIDs() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		<-closed
		t.Fatal("Close did not return: a cancelled call still runs")
	}
}

// WithKillOnCancel applies to every cancel, not only Future.Cancel: a
// Call or a map whose context ends kills the worker running what it
// abandons.
func TestKillOnCancelEverywhere(t *testing.T) {
	tests := []struct {
		name string
		run  func(ctx context.Context, p *proc.Pool, in blockIn) error
	}{
		{"Call", func(ctx context.Context, p *proc.Pool, in blockIn) error {
			_, err := block.Call(ctx, p, in)
			return err
		}},
		{"Map", func(ctx context.Context, p *proc.Pool, in blockIn) error {
			_, err := block.Map(ctx, p, []blockIn{in})
			return err
		}},
		{"MapUnordered", func(ctx context.Context, p *proc.Pool, in blockIn) error {
			var err error
			for r := range block.MapUnordered(ctx, p, slices.Values([]blockIn{in})) {
				err = r.Err
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPool(t, proc.WithWorkers(1), proc.WithKillOnCancel(), proc.WithStderr(nil))
			pid := p.PIDs()[0]
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				for !exists(filepath.Join(dir, "started")) && ctx.Err() == nil {
					time.Sleep(time.Millisecond)
				}
				cancel()
			}()
			if err := tt.run(ctx, p, blockIn{Dir: dir, IgnoreCtx: true}); !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			wait.For(t, "the worker to be killed", func() bool { return !testproc.Alive(pid) })
			wait.For(t, "a replacement", func() bool {
				pids := p.PIDs()
				return len(pids) == 1 && pids[0] != pid
			})
		})
	}
}
