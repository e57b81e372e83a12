package runner

import "io"

// GuardEnv marks the guard process in its environment, so tests can find it.
const GuardEnv = guardEnv + "=1"

// ReadGuard and GuardRecord expose the guard's record decoder and encoder
// to the fuzz test.
var (
	ReadGuard   = readGuard
	GuardRecord = guardRecord
)

// The template parser, the direct-exec test and the -j bound are internals
// the tests check on their own.
var (
	ParseTemplate = parseTemplate
	SimpleArgv    = simpleArgv
)

const MaxJobs = jobsLimit

// RetryCommands and JoblogLine expose the joblog's --retry-failed reader
// and its line writer to the fuzz test.
func RetryCommands(r io.Reader) (map[int64]string, error) {
	l, err := parseRetryList(r)
	return l.commands, err
}

func JoblogLine(seq int64, exit int, command string) string {
	return formatJoblogLine(Result{Seq: seq, Host: ":", Exit: exit}, command)
}
