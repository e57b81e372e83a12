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

// ReadRecords exposes the input reader (-d, --csv, --header, --trim, -E,
// -r) to the fuzz tests: the names --header read and every record.
func ReadRecords(c Config) (names []string, recs [][]string, err error) {
	o, err := c.readOpts()
	if err != nil {
		return nil, nil, err
	}
	it, err := newArgIter(c.Inputs, o)
	if err != nil {
		return nil, nil, err
	}
	for {
		rec, err := it.Next()
		if err == io.EOF {
			return it.names, recs, nil
		}
		if err != nil {
			return it.names, recs, err
		}
		recs = append(recs, rec)
	}
}

// TableField and JSONString expose --results' CSV/TSV and JSON quoting.
var (
	TableField = tableField
	JSONString = jsonString
)
