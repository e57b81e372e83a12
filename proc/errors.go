package proc

import (
	"errors"
	"fmt"
	"syscall"
)

var (
	// ErrWorkerCrashed is returned (inside a *CrashError) for a task whose
	// worker died while running it: it exited, was killed, segfaulted or ran
	// out of memory. The worker is replaced; retrying is the caller's call.
	ErrWorkerCrashed = errors.New("proc: worker crashed")
	// ErrTimeout is returned for a task that outran its time limit
	// (WithTimeout, WithCallTimeout). Its
	// worker's whole process group was killed and the worker replaced.
	ErrTimeout = errors.New("proc: task timed out")
	// ErrClosed is returned for calls on a pool that is closed or
	// terminated, and for tasks that Terminate cut short.
	ErrClosed = errors.New("proc: pool closed")
	// ErrCanceled is returned for a call that was cancelled before it
	// completed: by Future.Cancel, or by the end of the context given to
	// Submit (then it wraps the context's cause too). With WithKillOnCancel
	// its worker was killed and replaced if it was running the call.
	ErrCanceled = errors.New("proc: call canceled")
	// ErrUnknownFunc is returned when a worker has no function registered
	// under the called name (a Declare without a matching worker, or a
	// worker binary built without the Register).
	ErrUnknownFunc = errors.New("proc: unknown function")
)

// A PanicError is the error of a task whose function panicked in the
// worker. The worker recovered and goes on serving.
//
// It has the fields of pool.PanicError, with one difference the process
// boundary forces: the panic value stayed in the worker, and only its text
// came back, so Value is a string and there is no Unwrap. A panic(err) in a
// worker is not errors.Is-able in the parent; compare Value, or have the
// function return its error instead of panicking.
type PanicError struct {
	// Value is the worker's panic value formatted with %v.
	Value string
	// Stack is the panicking goroutine's stack trace, taken in the worker
	// by runtime/debug.Stack.
	Stack []byte
}

// Error reads "proc: task panicked: " and the value; the stack is left out
// to keep messages short, and is in the Stack field.
func (e *PanicError) Error() string { return "proc: task panicked: " + e.Value }

// A CrashError is the error of a task whose worker died under it. It
// unwraps to ErrWorkerCrashed.
type CrashError struct {
	// Worker is the worker's number (see WorkerID) and PID its process id.
	Worker, PID int
	// ExitCode is the worker's exit status, or -1 if a signal killed it.
	ExitCode int
	// Signal is the signal that killed the worker, or 0.
	Signal syscall.Signal
	// Err, when set, says why the worker could not start or was dropped
	// (a broken pipe, a protocol error).
	Err error
}

func (e *CrashError) Error() string {
	msg := fmt.Sprintf("proc: worker %d (pid %d) crashed", e.Worker, e.PID)
	switch {
	case e.Signal != 0:
		msg += ": " + e.Signal.String()
	case e.ExitCode >= 0:
		msg += fmt.Sprintf(": exit status %d", e.ExitCode)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns ErrWorkerCrashed and the underlying cause, if any.
func (e *CrashError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrWorkerCrashed, e.Err}
	}
	return []error{ErrWorkerCrashed}
}

// A RemoteError is an error that a task's function returned in the worker.
// Only its text crosses the process boundary.
type RemoteError struct {
	// Msg is the error's text as the worker's function produced it.
	Msg string
}

func (e *RemoteError) Error() string { return e.Msg }

// taskErr is one entry of a reply's error list (the JSON in wire's Err).
type taskErr struct {
	// I is the index in the batch, or -1 for the whole batch.
	I     int    `json:"i"`
	Msg   string `json:"msg"`
	Panic bool   `json:"panic,omitempty"`
	Stack string `json:"stack,omitempty"`
	// Unknown marks a call of a name the worker does not know.
	Unknown bool `json:"unknown,omitempty"`
}

func (t taskErr) err() error {
	switch {
	case t.Panic:
		return &PanicError{Value: t.Msg, Stack: []byte(t.Stack)}
	case t.Unknown:
		return fmt.Errorf("%w: %s", ErrUnknownFunc, t.Msg)
	}
	return &RemoteError{Msg: t.Msg}
}
