// Package proc runs Go functions in a pool of child processes: real
// parallelism and isolation, as Python's multiprocessing.Pool and
// ProcessPoolExecutor give, for work that may crash, leak, hang or call
// unsafe C code. A crash stays in its worker.
//
// # Use
//
// Register functions at package level and call Main first thing in main,
// so that the program can serve as its own worker:
//
//	var square = proc.Register("square", func(ctx context.Context, x int) (int, error) {
//		return x * x, nil
//	})
//
//	func main() {
//		proc.Main() // in a worker: serves tasks and exits
//		ctx := context.Background()
//		p, err := proc.New(ctx, proc.WithWorkers(4))
//		if err != nil { ... }
//		defer p.Close()
//		y, err := square.Call(ctx, p, 7)                            // one call
//		ys, err := square.Map(ctx, p, xs, proc.WithChunk(1000))     // ordered
//		for r := range square.Stream(ctx, p, seq) { ... }           // ordered, lazy
//		for r := range square.MapUnordered(ctx, p, seq) { ... }     // as they come
//	}
//
// Test binaries call Main at the top of TestMain.
//
// For Python users: Call is apply, Map is map, Stream is imap,
// MapUnordered is imap_unordered, Submit is ProcessPoolExecutor.submit,
// AsCompleted and Wait are concurrent.futures' as_completed and wait.
//
// # Futures
//
// Submit starts a call and returns its *Future at once; Wait(ctx) gets the
// result, Done is a channel for select, Cancel stops it:
//
//	a, _ := square.Submit(ctx, p, 7)
//	b, _ := greet.Submit(ctx, p, "crew")              // another result type
//	for h := range proc.AsCompleted(ctx, a, b) {      // first done, first out
//		if h == a { n, err := a.Wait(ctx); ... }
//	}
//	done, pending, err := proc.Wait(ctx, proc.FirstError, a, b)
//
// A cancelled call (Cancel, or the end of the context given to Submit)
// completes at once with ErrCanceled. If its worker had started it, the
// worker is sent a cancel request that cancels the function's context;
// with WithKillOnCancel the worker is killed instead, so a function that
// ignores its context stops too, and a fresh worker takes its place.
//
// # Streams
//
// Stream and MapUnordered take inputs from an iter.Seq as the loop uses
// results, so a sequence of any length runs in constant memory: at most
// the pool's in-flight limit of batches, 2 × workers × (WithPrefetch+1), of
// WithChunk inputs each, are taken and not yet yielded. Use WithChunk for
// tiny functions: ten million trivial calls stream in well under a second
// in batches of 10,000.
//
// # Per-call options
//
// Call, Submit, Map, Stream and MapUnordered take CallOptions: WithChunk,
// WithCallTimeout (this call's time limit in place of the pool's
// WithTimeout), and for the maps WithProgress, which reports (done, total)
// after each batch from the caller's goroutine, for a progress bar:
//
//	bar := progressbar.Default(int64(len(xs)))
//	ys, err := square.Map(ctx, p, xs, proc.WithChunk(100),
//		proc.WithProgress(func(done, _ int) { bar.Set(done) }))
//
// Each worker can be prepared once with WithInitializerArg(f, arg) (or
// WithInitializer(name) for f's zero input): a connection string, a model
// to load, a seed.
//
// # Failures
//
// A function's error comes back as a *RemoteError carrying its text; a
// panic as a *PanicError with the panic value's text (the value itself
// stays in the worker) and the worker's stack. A task whose
// worker exits, segfaults, runs out of memory (WithMemoryLimit) or is killed
// returns a *CrashError (errors.Is ErrWorkerCrashed); a task past WithTimeout
// (or WithCallTimeout) returns ErrTimeout. Either way the worker's whole process group is killed,
// a new worker takes its place, and every other task carries on: tasks that
// were queued on the dead worker but not started go to another one, once,
// whatever WithPrefetch is. Only the task that was running fails (with its
// whole chunk, if Map chunked it), and it is never sent again, so a task
// that always crashes costs one worker, not a cascade of them.
//
// Workers run in their own process group with a parent-death signal, so a
// dead parent leaves no worker behind. Close finishes queued work; Terminate,
// or cancelling the context given to New, kills at once. Both reap every
// child before returning. Worker output (stdout and stderr) reaches the
// WithStderr writer, each line prefixed with "[worker N] ".
//
// # Wire protocol
//
// Any program can be a worker (see WithCommand). It reads frames on file
// descriptor 3 and writes frames on file descriptor 4. A frame is a 4-byte
// big-endian length, then that many bytes: a kind byte, an 8-byte
// big-endian id, and a kind-specific rest:
//
//	'H' hello   worker → pool, once at start, id 0, no rest: "ready".
//	'C' call    pool → worker: codec byte 'j', name length byte, name,
//	            then a JSON array of arguments (a batch: one or more).
//	'X' cancel  pool → worker, no rest: cancel call id if running, skip it
//	            if not yet started; may be ignored.
//	'R' reply   worker → pool, same id as the call: codec byte 'j', a
//	            4-byte big-endian length E, E bytes of JSON errors (E may be
//	            0), then a JSON array of results, one per argument.
//
// A Go worker given an initializer (WithInitializer, WithInitializerArg)
// reads its call, id 0, as the first frame and says hello only after it
// ran; the pool refuses initializers for WithCommand workers.
//
// The JSON errors are an array of {"i": index, "msg": text} with optional
// "panic": true and "stack"; index -1 fails the whole batch. A worker
// answers calls one at a time, in the order received, writes each reply
// out (no buffering) before it starts the next call, and exits when fd 3
// reaches end of file. The pool relies on that order when a worker dies:
// having read every reply up to end of file, it takes the first unanswered
// call for the one that was running and sends the later ones elsewhere. A
// worker that held replies back would get a finished call blamed for its
// crash and the crashing one sent to another worker. (Go workers use codec 'b', a binary encoding, for
// scalar types; pools started with WithCommand always use 'j'.)
//
// # Costs
//
// A call costs a few allocations, its encoding and a pipe round trip: a few
// microseconds of CPU, and tens of microseconds of latency on a busy
// machine, where each hand-off between goroutines and processes waits for
// a wake-up (bench/proc: Submit+Wait 54-72 µs against 180 µs for Python's
// ProcessPoolExecutor). Each worker keeps WithPrefetch calls queued so the
// latency overlaps work; submitting many calls before waiting overlaps it
// too. WithChunk batches tiny tasks to amortize it.
package proc
