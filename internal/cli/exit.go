package cli

import (
	"errors"
	"fmt"
	"io"
)

// Exit statuses shared by every command. crew run follows GNU parallel:
// the number of failed jobs (capped at 101), 255 for other errors.
const (
	exitOK    = 0
	exitError = 255
)

// exitStatusError asks Main to exit with Code. Err, when non-nil, is printed
// first; a nil Err exits quietly (the command has already said what failed).
type exitStatusError struct {
	Code int
	Err  error
}

func (e *exitStatusError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *exitStatusError) Unwrap() error { return e.Err }

// exitCode turns a command's error into the process exit status, printing the
// error on w. This is the one place exit statuses are decided.
func exitCode(err error, w io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ee *exitStatusError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(w, "crew: %v\n", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintf(w, "crew: %v\n", err)
	return exitError
}
