package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrInterrupted is returned (wrapped) by Run when its context was
// cancelled: no new job was started after that, and the running ones were
// stopped along the termination sequence.
var ErrInterrupted = errors.New("runner: interrupted")

// ErrNoExecutor is returned by Run for a Config without an Executor.
var ErrNoExecutor = errors.New("runner: no executor (set Config.Executor; runner.Local{} runs jobs on this machine)")

// Config describes a run. Jobs and Executor are required; the zero value
// of every other field means GNU parallel's default.
type Config struct {
	// Command holds the command words, joined with spaces into one shell
	// command line, with replacement strings ({}, {.}, {1}, ...). When it
	// is empty the inputs are the commands, as in GNU parallel: each job
	// runs its arguments, joined with spaces and unquoted (quoted with
	// Quote), as one shell command line.
	Command []string
	// Quote is -q: quote each command word as a whole, so that the shell
	// receives the words as given.
	Quote bool
	// Inputs are the input sources; see Input.
	Inputs []Input
	// Null separates input records by NUL instead of newline (-0).
	Null bool
	// ColSep, when set, splits each record into columns {1}, {2}, ...
	ColSep *regexp.Regexp

	// Jobs is the number of job slots: how many jobs run at once.
	Jobs int
	// Executor runs the jobs: Local{} on this machine, or a cluster's.
	// It is required (Run fails with ErrNoExecutor without one): how and
	// where jobs run, with which termination sequence and in which
	// directory, is the executor's business, never the Config's.
	Executor Executor
	// Delay is the least time between two job starts (--delay).
	Delay time.Duration
	// MaxLoad, when positive, holds back new jobs while the one-minute
	// load average exceeds it (--load).
	MaxLoad float64
	// MemFree, when positive, holds back new jobs while less than this
	// many bytes of memory are available (--memfree).
	MemFree int64

	// Stdout and Stderr receive the jobs' output; nil discards it.
	Stdout, Stderr io.Writer
	// Output chooses grouping; see OutputMode.
	Output OutputMode
	// KeepOrder writes output in input order (-k) rather than completion
	// order. Only output that is out of order is held back.
	KeepOrder bool
	// Tag prefixes output lines with the job's arguments and a tab.
	Tag bool
	// TagString, when set, is a template whose expansion prefixes output
	// lines (--tagstring); replacement values are not quoted there.
	TagString string

	// JobLog, when set, is the path of a GNU parallel joblog.
	JobLog string
	// Resume skips the jobs the joblog records; ResumeFailed skips only
	// those that succeeded.
	Resume, ResumeFailed bool
	// Retries is how many times in all a failing job is tried (--retries).
	Retries int
	// Timeout kills a job's process group after this long.
	Timeout time.Duration
	// TimeoutPercent, when positive, kills a job running longer than this
	// percentage of the median run time of the jobs finished so far.
	TimeoutPercent float64
	// Halt says when to stop the run early.
	Halt Halt
	// DryRun prints the commands instead of running them.
	DryRun bool
	// Results, when set, stores each job's output instead of writing it
	// to Stdout and Stderr, as GNU parallel's --results NAME does: a name
	// ending in .csv, .tsv or .json is a table with one record per job in
	// job order (-.csv, -.tsv, -.json: on Stdout); a name holding
	// replacement strings names each job's files (NAME, NAME.err,
	// NAME.seq; with a trailing / a directory holding seq, stdout and
	// stderr); any other name is a directory tree NAME/1/<arg1>/2/...
	Results string

	// Several input records per job, and other input forms (#11 §2, the
	// "args" helper: runner/group.go, runner/input.go). --pipe reads
	// MaxArgs as records per block (-N), MaxLines as lines per record (-L)
	// and Header as the header to repeat in every block.

	// MaxArgs is -n/--max-args or -N/--max-replace-args: the most input
	// records one job takes. Zero means one record per job, or with
	// Multiple as many as fit MaxChars.
	MaxArgs int
	// ZeroArgs is -n 0, -N 0 or -L 0: each job reads one record but puts
	// no argument on its command line.
	ZeroArgs bool
	// ReplaceArgs is -N rather than -n.
	ReplaceArgs bool
	// MaxLines is -L/--max-lines: the most nonblank input lines one job
	// takes; a line ending in a blank continues on the next.
	MaxLines int
	// Multiple is -X, -m or --xargs (or the -X that -n, -N and -L
	// imply): jobs take as many records as fit, at most MaxArgs.
	Multiple Multiple
	// Spread is -X or -m given: when a job's records reach the end of the
	// input, they are spread evenly over the job slots instead.
	Spread bool
	// MaxChars is -s/--max-chars: command lines must be shorter than
	// this many bytes; zero means the system's limit (MaxCommandLine).
	MaxChars int
	// ExitTooBig is -x. A command line that cannot fit stops the run
	// (CommandTooLongError) with or without it, as in GNU parallel.
	ExitTooBig bool
	// Header is --header as given; nil when there is none. Without
	// --pipe, any value but "0" makes the first record of each input name
	// its columns ({name}); "0" names a file's column by the file's name.
	Header *string
	// Delimiter, when set, ends input records instead of newline (-d),
	// its escapes already resolved (see Unescape).
	Delimiter *string
	// NoRunIfEmpty is -r: records that are only blanks make no job.
	NoRunIfEmpty bool
	// EOF, when set, is -E: a line equal to it ends the input.
	EOF string
	// CSV is --csv: records are CSV lines split into columns.
	CSV bool
	// Trim is --trim: blanks removed from the ends of values (the zero
	// value trims --colsep columns, as GNU parallel does).
	Trim Trim
	// Shuffle is --shuf: all jobs are read first and run in random order.
	Shuffle bool
	// Verbose is -t: each job's command goes to Stderr as it starts.
	Verbose bool
	// Records (GNU parallel's --joblog +FILE, --retry-failed).
	//
	// JobLogAppend adds to JobLog after what it holds, with no header
	// (--joblog +FILE); otherwise a run without Resume starts it afresh.
	JobLogAppend bool
	// RetryFailed reruns the jobs JobLog records as failed, each under its
	// own job number with the command line the joblog records, ignoring
	// Command and Inputs; when JobLog does not exist yet, the run is an
	// ordinary one.
	RetryFailed bool
	// Files writes each job's standard output to a file (under Results
	// when set, else in the temporary directory) and prints the file's
	// name on Stdout in place of the output (--files).
	Files bool

	// Retrying with back-off, and files that travel with jobs (#14, the
	// tags helper). RetryDelay, when positive, is the wait before a
	// failed job's second try (--retry-delay); each later wait doubles,
	// with jitter, up to MaxRetryDelay. The others fill each Job's Files:
	// TransferFiles (--transferfile; --transfer is "{}") and ReturnFiles
	// (--return) are templates expanded per job, unquoted; BaseFiles
	// (--basefile) are paths; WorkDir (--workdir) is a template too. Only
	// an executor that runs jobs elsewhere moves files (package cluster);
	// Local ignores them, as GNU parallel does without --sshlogin, but
	// runs each job in its WorkDir.
	RetryDelay    time.Duration
	TransferFiles []string
	ReturnFiles   []string
	BaseFiles     []string
	Cleanup       bool
	WorkDir       string

	// Replacement strings and the job's environment (#11 §2 template
	// side and §3, the "tmpl" helper: runner/template*.go, runner/env.go).

	// Replace renames replacement strings (-I, --extensionreplace, ...).
	Replace Replacements
	// Plus is --plus: GNU parallel's further replacement strings ({..},
	// {+/}, {:-str}, {%re}, {/re/str}, {##}, ...).
	Plus bool
	// ContextReplace repeats the run of non-blank text around {} for
	// every argument of a job (-X, and -N or -L without -m/--xargs);
	// otherwise {} is all the arguments, separated by spaces.
	ContextReplace bool
	// Env holds KEY=value pairs every job gets on top of the PARALLEL_
	// variables (see SelectEnv for --env); they travel with the job to
	// cluster workers, where the worker's own environment is the base.
	Env []string

	// Drain, when closed, stops the start of new jobs and lets the
	// running ones finish (crew run's SIGHUP). Run says so on Stderr and
	// names the jobs it waits for; the jobs never started are not counted
	// as failed, so the exit status is that of the jobs that ran.
	Drain <-chan struct{}
	// Progress, when set, hears of every job start and end.
	Progress Progress
	// Pipe, when set, makes the run GNU parallel's --pipe (or
	// --pipepart): its data is cut into blocks, each the standard input
	// of one job, instead of inputs becoming arguments. See Pipe.
	Pipe *Pipe

	// Log, when set, receives the runner's own messages to the user, one
	// line each with no newline: a job that could not run, a job killed
	// by Timeout, a halt, the jobs a Drain waits for. It is called with
	// the output lock held, so a message never splits a job's output; it
	// must not block. Nil writes each line to Stderr after "runner: ".
	Log func(line string)
}

// Progress is told about jobs as they start and end, for progress bars.
// Its methods are called from several goroutines at once.
type Progress interface {
	// Total reports the number of jobs when it is known in advance.
	Total(n int64)
	Started(job *Job)
	// Finished reports a started job's end; r.Stopped says the run
	// stopped it, so it did not run to its end (with a cluster, it may
	// not have started at all).
	Finished(job *Job, r Result)
}

// Summary is the outcome of a run.
type Summary struct {
	// Started counts jobs started; Skipped counts jobs --resume skipped.
	Started, Skipped int64
	// Failed counts jobs that ended with a non-zero status or a signal.
	Failed int64
	// Halted reports that --halt stopped the run early; HaltStatus is the
	// exit status it chose.
	Halted     bool
	HaltStatus int
}

// ExitStatus is the exit status GNU parallel gives for this run: the
// number of failed jobs (101 for more than 100), or the status chosen by
// --halt.
func (s Summary) ExitStatus() int {
	if s.Halted {
		return s.HaltStatus
	}
	return int(min(s.Failed, 101))
}

// Run runs the command for every input and returns when all jobs it
// started have ended. Jobs that fail do not make Run fail; they are
// counted in the Summary. Run returns an error for a bad configuration, an
// unreadable input or joblog, or (wrapping ErrInterrupted) a cancelled
// ctx; the Summary still counts what ran. Run starts one goroutine per
// job slot and none survive it.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	r, err := newRun(cfg)
	if err != nil {
		return Summary{}, err
	}
	return r.run(ctx)
}

type run struct {
	cfg   Config
	ropts readOpts
	limit int // command lines must be shorter
	tmpl  *template
	tagT  *template
	files *fileTemplates // nil when no job carries files
	pipe  *pipeSpec      // --pipe, or nil
	exec  Executor
	done  seqSet
	inter bool

	logMu  sync.Mutex
	joblog interface {
		io.Writer
		Sync() error
		Close() error
	}

	outMu  sync.Mutex
	res    *results // --results and --files; nil without them
	budget atomic.Int64
	order  orderQueue

	mu       sync.Mutex
	sum      Summary
	finished int64
	total    int64 // number of jobs, when read in advance
	median   medianTracker
	stopping atomic.Bool
	haltNow  context.CancelFunc
	firstErr error
	running  map[int64]string // command lines of the jobs running, by seq
	// names are the column names --header read (wired to {name} by the
	// template).
	names []string
}

func newRun(cfg Config) (*run, error) {
	if cfg.Jobs < 1 {
		return nil, badValue(ErrBadJobs, "jobs must be at least 1, got %d", cfg.Jobs)
	}
	if cfg.Executor == nil {
		return nil, ErrNoExecutor
	}
	var pipe *pipeSpec
	if cfg.Pipe != nil {
		// -N, -L and --header mean blocks of records, not arguments.
		var err error
		if pipe, err = cfg.Pipe.spec(&cfg); err != nil {
			return nil, err
		}
		cfg.MaxArgs, cfg.MaxLines, cfg.ZeroArgs, cfg.ReplaceArgs = 0, 0, false, false
		cfg.Multiple, cfg.Spread, cfg.Header = 0, false, nil
	}
	tmpl, tagT, err := cfg.templates()
	if err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, tmpl: tmpl, tagT: tagT, pipe: pipe, exec: cfg.Executor, running: map[int64]string{}}
	if r.ropts, err = cfg.readOpts(); err != nil {
		return nil, err
	}
	r.limit = MaxCommandLine() + 1
	if cfg.MaxChars > 0 {
		if cfg.MaxChars <= r.limit {
			r.limit = cfg.MaxChars
		} else {
			r.warnf("warning: -s %d is more than this system allows; using %d", cfg.MaxChars, r.limit-1)
		}
	}
	if r.cfg.Stdout == nil {
		r.cfg.Stdout = io.Discard
	}
	if r.cfg.Stderr == nil {
		r.cfg.Stderr = io.Discard
	}
	if cfg.Retries < 1 {
		r.cfg.Retries = 1
	}
	if cfg.Results != "" || cfg.Files {
		// The output is stored per job, not written, so how it would be
		// written does not matter; only grouping keeps it per job.
		r.cfg.Output = Group
	}
	if err := r.parseFiles(); err != nil {
		return nil, err
	}
	if err := cfg.Halt.validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// say hands the user one line of the runner's own through Config.Log;
// r.outMu must be held.
func (r *run) say(line string) {
	if r.cfg.Log != nil {
		r.cfg.Log(line)
		return
	}
	fmt.Fprintf(r.cfg.Stderr, "runner: %s\n", line)
}

func (r *run) warnf(format string, args ...any) {
	r.outMu.Lock()
	r.say(fmt.Sprintf(format, args...))
	r.outMu.Unlock()
}

func (r *run) run(ctx context.Context) (Summary, error) {
	it, err := newArgIter(r.cfg.Inputs, r.ropts)
	if err != nil {
		return Summary{}, err
	}
	r.names = it.names
	if err := r.useNames(it.names); err != nil {
		return Summary{}, err
	}
	grp := r.cfg.newGrouper(it.Next, func(seq int64, args []string) string {
		return r.command(seq, r.cfg.Jobs, args)
	}, r.limit)
	var next func() ([]string, error) = grp.Next
	retry, err := r.retrySource()
	if err != nil {
		return Summary{}, err
	}
	if retry != nil {
		next = retry.next()
	}
	var total int64 = -1
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	g := &gate{ready: make(chan ready, r.cfg.Jobs), quit: make(chan struct{})}
	var feed *pipeFeed
	if r.pipe != nil {
		if feed, err = r.openPipe(runCtx, g.quit); err != nil {
			return Summary{}, err
		}
		defer feed.close()
		next = feed.next
	} else if retry != nil {
		total = int64(len(retry.commands))
	} else if r.cfg.Shuffle || r.cfg.Halt.Percent > 0 || r.cfg.Progress != nil && knownSize(r.cfg.Inputs) || r.tmpl != nil && r.tmpl.needTotal {
		// Percentages need the number of jobs, so the input is read first.
		all, err := collect(next)
		if err != nil {
			return Summary{}, err
		}
		if r.cfg.Shuffle {
			rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		}
		total = int64(len(all))
		next = func() ([]string, error) {
			if len(all) == 0 {
				return nil, io.EOF
			}
			a := all[0]
			all = all[1:]
			return a, nil
		}
	}
	r.total = total
	if r.cfg.Progress != nil && total >= 0 {
		r.cfg.Progress.Total(total)
	}
	if r.cfg.JobLog != "" && !r.cfg.DryRun {
		f, done, err := openJoblog(r.cfg.JobLog, joblogMode{
			appendOnly:    r.cfg.JobLogAppend,
			keep:          r.cfg.Resume || r.cfg.ResumeFailed || r.cfg.RetryFailed,
			readDone:      r.cfg.Resume || r.cfg.ResumeFailed,
			succeededOnly: r.cfg.ResumeFailed,
		})
		if err != nil {
			return Summary{}, err
		}
		r.joblog, r.done = f, done
		defer f.Close()
	}
	if retry != nil {
		r.done = retry.done
	}
	if !r.cfg.DryRun {
		if r.res, err = newResults(&r.cfg, r.names); err != nil {
			return Summary{}, err
		}
		defer r.res.close()
	}
	r.order.init(r.cfg.KeepOrder && r.cfg.Output != Ungroup)
	r.haltNow = cancel

	if r.cfg.Drain != nil {
		stopWatch := make(chan struct{})
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			select {
			case <-r.cfg.Drain:
				r.sayDraining()
			case <-stopWatch:
			}
		}()
		defer func() { close(stopWatch); <-watched }()
	}

	// One goroutine per slot for the whole run: a slot goes from reaping
	// one job straight to starting the next on the same goroutine, with no
	// hand-off through this loop, which only reads the input ahead.
	var wg sync.WaitGroup
	if !r.cfg.DryRun {
		for range r.cfg.Jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.slot(runCtx, g)
			}()
		}
	}
	var loopErr error
loop:
	for seq := int64(1); ; seq++ {
		args, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			loopErr = err
			break
		}
		var pj *pipeJob
		if feed != nil {
			pj = feed.take()
		}
		for _, a := range args {
			if err := validArg(a); err != nil {
				loopErr = &InputError{Name: "input", Line: seq, Err: err}
				break loop
			}
		}
		if r.done.has(seq) {
			r.sum.Skipped++
			r.order.skip(seq, r)
			pj.finish()
			continue
		}
		skip := r.tmpl != nil && r.tmpl.skip(args) // {uniq}, {choose_k}
		if r.cfg.DryRun {
			slot := int((seq-1)%int64(r.cfg.Jobs)) + 1
			command := r.command(seq, slot, args)
			if len(command) >= r.limit {
				loopErr = tooLong(seq, command, r.limit-1)
				pj.finish()
				break
			}
			fmt.Fprintln(r.cfg.Stdout, command)
			pj.finish()
			r.countSkipped(skip)
			continue
		}
		if skip {
			r.skipJob(seq, args)
			pj.finish()
			continue
		}
		select {
		case g.ready <- ready{seq, args, pj}:
		case <-g.quit:
			pj.finish()
			break loop
		case <-runCtx.Done():
			pj.finish()
			break loop
		case <-r.cfg.Drain:
			pj.finish()
			break loop
		}
	}
	// Jobs already handed over still start unless the run is stopping,
	// as they would have had this loop waited for their slots.
	close(g.ready)
	wg.Wait()
	r.mu.Lock()
	sum := r.sum
	jerr := r.firstErr
	r.mu.Unlock()
	if ctx.Err() != nil {
		return sum, fmt.Errorf("%w: %w", ErrInterrupted, context.Cause(ctx))
	}
	if loopErr != nil {
		return sum, loopErr
	}
	return sum, jerr
}

// ready is a job read from the input and waiting for a slot.
type ready struct {
	seq  int64
	args []string
	pipe *pipeJob // --pipe: the job's input
}

// gate lets the slots start jobs one at a time and in input order, so the
// stop conditions, --delay and --load/--memfree are checked between two
// starts exactly as a single loop would.
type gate struct {
	mu        sync.Mutex
	ready     chan ready
	lastStart time.Time
	quit      chan struct{} // closed once no more jobs may start
	quitOnce  sync.Once
	// busy marks the job slot numbers ({%}) in use: a job takes the
	// lowest free one, as in GNU parallel, whichever goroutine runs it.
	slotMu sync.Mutex
	busy   []bool
}

// takeSlot returns the lowest free slot, or want if it is free (a
// --round-robin job keeps the slot of its stream).
func (g *gate) takeSlot(want int) int {
	g.slotMu.Lock()
	defer g.slotMu.Unlock()
	for len(g.busy) < want {
		g.busy = append(g.busy, false)
	}
	if want > 0 && !g.busy[want-1] {
		g.busy[want-1] = true
		return want
	}
	for i, b := range g.busy {
		if !b {
			g.busy[i] = true
			return i + 1
		}
	}
	g.busy = append(g.busy, true)
	return len(g.busy)
}

func (g *gate) freeSlot(slot int) {
	g.slotMu.Lock()
	g.busy[slot-1] = false
	g.slotMu.Unlock()
}

func (g *gate) stop() { g.quitOnce.Do(func() { close(g.quit) }) }

// slot runs jobs in one job slot until the input is used up or the run
// stops starting jobs.
func (r *run) slot(ctx context.Context, g *gate) {
	for {
		j, command, slot, ok := r.next(ctx, g)
		if !ok {
			return
		}
		r.runJob(ctx, j.seq, slot, j.args, command, j.pipe)
		g.freeSlot(slot)
	}
}

// next waits for the next job to start, gives it a slot and marks it
// started.
func (r *run) next(ctx context.Context, g *gate) (ready, string, int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var j ready
	var ok bool
	select {
	case j, ok = <-g.ready:
	case <-g.quit:
	case <-ctx.Done():
	case <-r.cfg.Drain:
	}
	if !ok || r.stopping.Load() || ctx.Err() != nil || closed(r.cfg.Drain) || !r.wait(ctx, g.lastStart) {
		j.pipe.finish()
		g.stop()
		return ready{}, "", 0, false
	}
	slot := g.takeSlot(j.pipe.slot())
	command := r.command(j.seq, slot, j.args)
	if len(command) >= r.limit {
		// Never left to exec to fail with "argument list too long".
		r.setErr(tooLong(j.seq, command, r.limit-1))
		g.freeSlot(slot)
		g.stop()
		return ready{}, "", 0, false
	}
	if r.cfg.Verbose {
		r.outMu.Lock()
		fmt.Fprintln(r.cfg.Stderr, command)
		r.outMu.Unlock()
	}
	g.lastStart = time.Now()
	r.mu.Lock()
	r.sum.Started++
	r.running[j.seq] = command
	r.mu.Unlock()
	return j, command, slot, true
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func knownSize(ins []Input) bool {
	for _, in := range ins {
		if in.Reader != nil {
			return false
		}
	}
	return true
}

func collect(next func() ([]string, error)) ([][]string, error) {
	var all [][]string
	for {
		a, err := next()
		if err == io.EOF {
			return all, nil
		}
		if err != nil {
			return nil, err
		}
		all = append(all, a)
	}
}

// command is the command line of the job seq: the template expanded, or
// with no template the arguments themselves.
func (r *run) command(seq int64, slot int, args []string) string {
	if r.tmpl != nil {
		return r.tmpl.expand(r.jobInfo(seq, slot), args, true)
	}
	if !r.cfg.Quote {
		return strings.Join(args, " ")
	}
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = quoteArg(a)
	}
	return strings.Join(q, " ")
}

// sayDraining tells the user that Drain was heard and which jobs are
// still awaited, as GNU parallel does on SIGHUP.
func (r *run) sayDraining() {
	r.mu.Lock()
	seqs := make([]int64, 0, len(r.running))
	for seq := range r.running {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	cmds := make([]string, len(seqs))
	for i, seq := range seqs {
		cmds[i] = r.running[seq]
	}
	r.mu.Unlock()
	if len(cmds) == 0 {
		r.warnf("no new jobs will be started")
		return
	}
	r.outMu.Lock()
	defer r.outMu.Unlock()
	r.say(fmt.Sprintf("no new jobs will be started; waiting for these %d jobs to finish:", len(cmds)))
	for _, c := range cmds {
		r.say("  " + c)
	}
}

// runJob runs one job with its retries and hands the outcome on.
func (r *run) runJob(ctx context.Context, seq int64, slot int, args []string, command string, pj *pipeJob) {
	job := &Job{Seq: seq, Slot: slot, Command: command, Timeout: r.cfg.Timeout, Args: args, Env: jobEnv(r.cfg.Env, seq, slot)}
	if argv, ok := simpleArgv(command); ok {
		job.Argv = argv
	}
	job.Files = r.files.expand(seq, slot, args)
	retry := r.retryBackoff()
	tag := r.tag(seq, slot, args)
	if r.cfg.Progress != nil {
		r.cfg.Progress.Started(job)
	}
	var res Result
	var out, errb *spillBuffer
	for attempt := 1; ; attempt++ {
		if r.cfg.TimeoutPercent > 0 {
			r.mu.Lock()
			if m, ok := r.median.median(); ok {
				job.Timeout = time.Duration(float64(m) * r.cfg.TimeoutPercent / 100)
			}
			r.mu.Unlock()
		}
		var stdout, stderr io.Writer
		var lw, le *lineWriter
		switch {
		case r.cfg.Output == Ungroup:
			stdout, stderr = r.cfg.Stdout, r.cfg.Stderr
		case r.cfg.Output == LineBuffer && !r.cfg.KeepOrder:
			lw = &lineWriter{dst: r.cfg.Stdout, tag: tag, mu: &r.outMu}
			le = &lineWriter{dst: r.cfg.Stderr, tag: tag, mu: &r.outMu}
			stdout, stderr = lw, le
		default:
			out = newFileBuffer(&r.budget)
			errb = newFileBuffer(&r.budget)
			stdout, stderr = out.writer(), errb.writer()
		}
		var stopPipe func() error
		var perr error
		if pj != nil {
			stopPipe, perr = r.attach(job, pj, attempt)
		}
		if perr != nil {
			res = Result{Seq: job.Seq, Host: ":", Exit: -1, Err: perr}
		} else {
			res = r.exec.Exec(ctx, job, stdout, stderr)
		}
		if stopPipe != nil {
			if err := stopPipe(); err != nil {
				r.setErr(err)
			}
			job.Stdin, job.StdinFile = nil, nil
			res.Send = pj.size()
		}
		// The joblog's Receive is what the runner's own writers took in
		// of standard output, whatever the executor counted. Ungrouped
		// output passes straight through and counts nothing, as in GNU
		// parallel.
		res.Receive = 0
		switch {
		case out != nil:
			res.Receive = max(out.size(), 0)
		case lw != nil:
			res.Receive = lw.n
		}
		if lw != nil {
			lw.flush()
			le.flush()
		}
		failed := res.Err != nil || res.Exit != 0 || res.Signal != 0
		if !failed || attempt >= r.cfg.Retries || ctx.Err() != nil || r.stopping.Load() {
			break
		}
		if out != nil {
			out.release()
			errb.release()
		}
		// The slot waits out the delay: a retry is this job's next start.
		if retry.Min > 0 && (retry.Sleep(ctx) != nil || r.stopping.Load()) {
			break
		}
	}
	// A job that failed once the run was being stopped (interrupt or
	// --halt now) was most likely killed by that stop, not by its own
	// fault: like GNU parallel, crew neither records nor counts it, so
	// --resume runs it again. A job that succeeded all the same is kept.
	stopped := ctx.Err() != nil && (res.Err != nil || res.Exit != 0 || res.Signal != 0)
	pj.finish()
	r.finish(job, args, res, tag, out, errb, stopped)
}

func (r *run) tag(seq int64, slot int, args []string) string {
	switch {
	case r.tagT != nil:
		return r.tagT.expand(r.jobInfo(seq, slot), args, false) + "\t"
	case r.cfg.Tag && r.pipe != nil:
		return "\t" // a block has no arguments to show (GNU parallel's too)
	case r.cfg.Tag:
		return strings.Join(args, " ") + "\t"
	}
	return ""
}

// finish records a finished job: joblog, results, counts, halt, output.
func (r *run) finish(job *Job, args []string, res Result, tag string, out, errb *spillBuffer, stopped bool) {
	r.mu.Lock()
	delete(r.running, job.Seq)
	r.mu.Unlock()
	if stopped {
		r.order.done(job.Seq, r.pendingOf(out, errb, tag), r)
		if r.cfg.Progress != nil {
			res.Stopped = true
			r.cfg.Progress.Finished(job, res)
		}
		return
	}
	if res.Err != nil {
		r.warnf("job %d: %v", job.Seq, res.Err)
	}
	if res.TimedOut {
		r.warnf("warning: job %d killed by --timeout: %s", job.Seq, job.Command)
	}
	if r.joblog != nil {
		line := formatJoblogLine(res, job.Command)
		r.logMu.Lock()
		_, err := io.WriteString(r.joblog, line)
		if err == nil {
			err = r.joblog.Sync()
		}
		r.logMu.Unlock()
		if err != nil {
			r.setErr(fmt.Errorf("runner: joblog: %w", err))
		}
	}
	failed := res.Err != nil || res.Exit != 0 || res.Signal != 0
	r.mu.Lock()
	r.finished++
	if res.Err == nil && !res.TimedOut {
		r.median.add(res.Runtime)
	}
	if failed {
		r.sum.Failed++
	}
	halt, status := r.cfg.Halt.check(r, failed, res)
	// Only the job that made the run halt says so; jobs finishing later
	// may meet the condition again.
	halt = halt && !r.sum.Halted
	if halt {
		r.sum.Halted = true
		r.sum.HaltStatus = status
	}
	waiting := len(r.running)
	r.mu.Unlock()
	if halt {
		r.stopping.Store(true)
		what := "failed"
		if !failed {
			what = "succeeded"
		}
		r.warnf("halting: this job %s: %s", what, job.Command)
		if r.cfg.Halt.When == HaltNow {
			r.haltNow()
		} else if waiting > 0 {
			r.warnf("starting no more jobs; waiting for %d running jobs to finish", waiting)
		}
	}
	p := r.pendingOf(out, errb, tag)
	if p != nil && r.res != nil {
		p.rec = &record{job: job, res: res, args: args}
	}
	r.order.done(job.Seq, p, r)
	// After the output: a bar drawn full goes below the last job's.
	if r.cfg.Progress != nil {
		r.cfg.Progress.Finished(job, res)
	}
}

func (r *run) pendingOf(out, errb *spillBuffer, tag string) *pending {
	if out == nil {
		return nil
	}
	return &pending{out: out, err: errb, tag: tag}
}

func (r *run) setErr(err error) {
	r.mu.Lock()
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.mu.Unlock()
}
