package runner

import (
	"fmt"
	"strings"
)

// A UsageError reports a problem with what the runner was asked to do,
// rather than with the runner: a malformed -j, --halt or size, a template
// with no command, an input file, joblog or results directory that cannot
// be read or written. It wraps the sentinel (ErrBadJobs, ErrBadHalt,
// ErrBadSize, ErrBadTemplate) or the system's error, so errors.Is and
// errors.As see through it. A command-line tool that puts its own name in
// front of errors finds the text without the package prefix in Msg.
type UsageError struct {
	// Msg says what is wrong, without the "runner: " prefix.
	Msg string
	// Err is the error wrapped.
	Err error
}

func (e *UsageError) Error() string { return "runner: " + e.Msg }

func (e *UsageError) Unwrap() error { return e.Err }

// badValue builds the UsageError for a malformed value: the sentinel's
// text, then the details.
func badValue(sentinel error, format string, args ...any) error {
	return &UsageError{
		Msg: strings.TrimPrefix(sentinel.Error(), "runner: ") + ": " + fmt.Sprintf(format, args...),
		Err: sentinel,
	}
}

// usageErr builds the UsageError for a file or directory the user named
// that could not be used; what says which.
func usageErr(what string, err error) error {
	return &UsageError{Msg: what + ": " + err.Error(), Err: err}
}
