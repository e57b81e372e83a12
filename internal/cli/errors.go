package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"crew/runner"
)

// userError is an error whose text is meant for crew's user as it is.
type userError struct {
	msg string
	err error
}

func (e *userError) Error() string { return e.msg }
func (e *userError) Unwrap() error { return e.err }

// plain drops the "runner: " prefix from the runner's errors about what it
// was given (*runner.UsageError, *runner.InputError,
// *runner.CommandTooLongError), since the user reads
// "crew: " in front already; flag, when set, names the flag at fault.
// Other errors, which may be crew's own failures, keep saying where they
// came from.
func plain(flag string, err error) error {
	msg := err.Error()
	var ue *runner.UsageError
	var ie *runner.InputError
	var tl *runner.CommandTooLongError
	switch {
	case errors.As(err, &ue):
		msg = strings.Replace(msg, ue.Error(), ue.Msg, 1)
	case errors.As(err, &ie):
		msg = strings.Replace(msg, ie.Error(), fmt.Sprintf("%s: record %d: %v", ie.Name, ie.Line, ie.Err), 1)
	case errors.As(err, &tl):
		msg = strings.Replace(msg, tl.Error(), strings.TrimPrefix(tl.Error(), "runner: "), 1)
	}
	if flag != "" {
		msg = flag + ": " + msg
	}
	if msg == err.Error() {
		return err
	}
	return &userError{msg: msg, err: err}
}

// flagError words pflag's complaint about a flag's value as crew's other
// errors are: "--timeout: bad value ...", rather than pflag's
// `invalid argument "x" for "--timeout" flag: bad value ...`, which names
// the value twice. It is the root command's flag error function, so it
// serves every command.
func flagError(err error) error {
	var ive *pflag.InvalidValueError
	if !errors.As(err, &ive) {
		return err
	}
	return &userError{msg: "--" + ive.GetFlag().Name + ": " + errors.Unwrap(ive).Error(), err: err}
}
