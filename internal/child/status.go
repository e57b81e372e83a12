package child

import (
	"os"
	"syscall"
)

// A Status is how a child process ended: the code it exited with, or the
// signal that killed it.
type Status struct {
	// Code is the exit code, or -1 when a signal ended the process or its
	// end is unknown.
	Code int
	// Signal is the signal that ended the process, or 0 when it exited.
	Signal syscall.Signal
}

// StatusOf decodes a reaped process's state. A nil state (the process
// was never reaped) gives Code -1 and no Signal.
func StatusOf(ps *os.ProcessState) Status {
	if ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
			switch {
			case ws.Signaled():
				return Status{Code: -1, Signal: ws.Signal()}
			case ws.Exited():
				return Status{Code: ws.ExitStatus()}
			}
		}
	}
	return Status{Code: -1}
}

// Ended reports whether the status is known: the process exited or was
// killed by a signal.
func (s Status) Ended() bool { return s.Code >= 0 || s.Signal != 0 }

// ShellCode returns the status as a POSIX shell reports it in $?: the
// exit code, or 128 plus the number of the signal that ended the process.
func (s Status) ShellCode() int {
	if s.Signal != 0 {
		return 128 + int(s.Signal)
	}
	return s.Code
}
