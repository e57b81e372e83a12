package runner

import (
	"context"
	"io"
	"os"
	"time"
)

// A Job is one fully expanded command, ready to run.
type Job struct {
	// Seq is the job's sequence number, {#}, starting at 1.
	Seq int64
	// Slot is the job slot it runs in, {%}, starting at 1.
	Slot int
	// Command is the expanded command line as the joblog shows it.
	Command string
	// Argv, when non-empty, is run directly without a shell: the command
	// is a simple command with no shell syntax. Otherwise Command runs
	// through "sh -c".
	Argv []string
	// Stdin, when non-nil, is fed to the job's standard input (--pipe).
	Stdin []byte
	// StdinFile, when non-nil, is the job's standard input itself (a pipe
	// --pipe writes a block into). Only Local takes it; Run sets it only
	// for Local, and gives other executors Stdin.
	StdinFile *os.File
	// Timeout, when positive, kills the job's process group after it.
	Timeout time.Duration
	// Env holds extra environment variables (KEY=value) for the job.
	Env []string
	// Args are the job's input values, as {} and --tag see them; for
	// executors that show jobs (crew status), not for running them.
	Args []string
	// Files, when set, names the files that travel with the job and the
	// directory it runs in (--transferfile, --return, --workdir, ...);
	// see Files.
	Files *Files
}

// A Result is what became of a job.
type Result struct {
	Seq     int64
	Host    string // ":" for the local machine, as in GNU parallel's joblog
	Start   time.Time
	Runtime time.Duration
	// Exit is the exit status; -1 when the job was killed by a signal or
	// could not start.
	Exit int
	// Signal is the number of the signal that killed the job, or 0.
	Signal int
	// TimedOut reports that the job was killed by its Timeout.
	TimedOut bool
	// Send and Receive are byte counts of input sent and standard output
	// received. Run sets Receive itself, from what its own writers took
	// in, so an executor that cannot count (one handing a file straight
	// to its child, say) may leave it zero.
	Send, Receive int64
	// Err is set when the job could not be run at all (not when it failed).
	Err error
	// Stopped reports that the run stopped the job (an interrupt, or
	// --halt now) before it ended on its own: Run sets it, on the Result
	// it gives Progress.Finished. A stopped job is neither recorded nor
	// counted as done.
	Stopped bool
}

// An Executor runs jobs somewhere: on this machine (Local) or on a cluster
// (package cluster). Exec runs one job to completion, copying its standard
// output and error to stdout and stderr, and returns what became of it.
// Cancelling ctx stops the job: its whole process group is signalled.
type Executor interface {
	Exec(ctx context.Context, job *Job, stdout, stderr io.Writer) Result
}
