package runner

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"crew/internal/child"
)

// guardEnv, set in its environment, tells a re-executed crew binary that it
// is the guard.
const guardEnv = "CREW_RUNNER_GUARD"

// Main makes Local's jobs die with the program, however it dies. Call it
// first thing in main (or TestMain), next to proc.Main; in the program
// itself it returns at once.
//
// Pdeathsig takes a job's leader down when the program is killed, but not
// what the leader started: "sleep 1000 &" would be left running. So the
// first Local job a program runs starts a guard: the program's own binary
// re-executed, holding the read end of a pipe whose write end only the
// program holds. Each job's process group is written to the pipe when the
// job starts and again when it ends. When the pipe reaches end of file
// (the program exited or was killed, even by SIGKILL), the guard kills
// every process group still registered and exits. In the guard, Main
// does this and never returns.
//
// The guard costs one idle process for the life of the program, started
// once, and two small pipe writes per job. A program that does not call
// Main runs no guard, and its jobs' background processes survive it if it
// is killed.
//
// What the guard does not cover: a job's group is registered just after
// its exec, so a program killed in those microseconds leaves whatever the
// job started in them; a job that ended is forgotten, so what it left in
// the background lives on as GNU parallel leaves it (once such a group is
// empty its id may be reused by an unrelated process, which the guard
// must never kill); and if the guard itself is killed, jobs carry on
// guarded by Pdeathsig only.
func Main() {
	if os.Getenv(guardEnv) == "" {
		guard.enabled = true
		return
	}
	os.Unsetenv(guardEnv)
	// The variable alone, inherited or typed by a user, does not make a
	// guard: the pipe from the program must be there too.
	var st syscall.Stat_t
	if syscall.Fstat(3, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		guard.enabled = true
		return
	}
	os.Exit(serveGuard(os.NewFile(3, "crew-guard")))
}

// guard is the program's side of the guard: set up once, on the first job.
var guard struct {
	enabled bool // Main ran and returned: the binary can be a guard
	once    sync.Once
	mu      sync.Mutex
	w       *os.File // nil when there is no guard (not enabled, or it died)
}

// startGuard starts the guard process if Main made that possible. Failing
// to start it is not an error: jobs still run, guarded by Pdeathsig only.
func startGuard() {
	if !guard.enabled {
		return
	}
	r, w, err := os.Pipe()
	if err != nil {
		return
	}
	defer r.Close()
	// /proc/self/exe still runs this binary if its file was replaced or
	// deleted since; os.Args[0] is kept because test harnesses dispatch on
	// it.
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{os.Args[0]},
		Env:        append(os.Environ(), guardEnv+"=1"),
		ExtraFiles: []*os.File{r},
	}
	// Detached: the guard is meant to outlive this process, and its own
	// process group keeps Ctrl-C and Ctrl-Z, which go to the terminal's
	// foreground group, away from it. Nobody waits for it here; whoever
	// inherits it reaps it.
	if _, err := child.StartDetached(cmd); err != nil {
		w.Close()
		return
	}
	guard.w = w
}

// guardRecord appends the record for pgid to b: '+' registers a process
// group, '-' forgets it.
func guardRecord(b []byte, op byte, pgid int) []byte {
	b = append(b, op)
	b = strconv.AppendInt(b, int64(pgid), 10)
	return append(b, '\n')
}

// guardTell writes one record to the guard. Records are far shorter than
// PIPE_BUF, so concurrent writes never interleave.
func guardTell(op byte, pgid int) {
	guard.once.Do(startGuard)
	guard.mu.Lock()
	w := guard.w
	guard.mu.Unlock()
	if w == nil {
		return
	}
	var buf [24]byte
	if _, err := w.Write(guardRecord(buf[:0], op, pgid)); err != nil {
		// The guard is gone (killed from outside); carry on without it.
		guard.mu.Lock()
		if guard.w == w {
			guard.w = nil
			w.Close()
		}
		guard.mu.Unlock()
	}
}

// errBadRecord reports a guard record that is not '+' or '-' followed by
// at most 20 decimal digits making a process group id in (1, pidMax].
var errBadRecord = errors.New("runner: bad guard record")

// pidMax is Linux's PID_MAX_LIMIT: no process id is larger.
const pidMax = 1 << 22

// parseGuardRecord decodes one record, without its newline. A pgid of 0 or
// 1 is refused: kill(-1) would signal every process the guard may signal,
// and kill(0) its own group.
func parseGuardRecord(rec []byte) (op byte, pgid int, err error) {
	if len(rec) < 2 || len(rec) > 21 || (rec[0] != '+' && rec[0] != '-') {
		return 0, 0, errBadRecord
	}
	for _, c := range rec[1:] {
		if c < '0' || c > '9' {
			return 0, 0, errBadRecord
		}
	}
	n, err := strconv.Atoi(string(rec[1:]))
	if err != nil || n <= 1 || n > pidMax {
		return 0, 0, errBadRecord
	}
	return rec[0], n, nil
}

// readGuard applies the records read from r to a set of process groups
// until r ends, and returns the groups still registered then. Malformed
// records are skipped.
func readGuard(r io.Reader) map[int]bool {
	groups := map[int]bool{}
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadSlice('\n')
		if err == nil {
			if op, pgid, perr := parseGuardRecord(line[:len(line)-1]); perr == nil {
				if op == '+' {
					groups[pgid] = true
				} else {
					delete(groups, pgid)
				}
			}
			continue
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			// An over-long line is garbage: drop it to its end.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			continue
		}
		return groups
	}
}

// serveGuard is the guard process: it waits for the program to go, kills
// the process groups of the jobs that were running, and returns the exit
// status.
func serveGuard(pipe *os.File) int {
	// The terminal's signals are for the program and its jobs; the guard
	// must last until the pipe tells it to act.
	signal.Ignore(syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGTSTP)
	for pgid := range readGuard(pipe) {
		_ = child.KillGroup(pgid, syscall.SIGKILL)
	}
	return 0
}
