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
var SimpleArgv = simpleArgv

// ParseTemplate parses a command as crew run does, with -q as quote.
func ParseTemplate(words []string, quote bool) (*template, error) {
	return parseTemplate(words, templateOptions{quote: quote})
}

// TemplateOptions are the template's options the tests set.
type TemplateOptions struct {
	Quote, Plus, Context, NoAppend bool
	Rename                         Replacements
}

// ParseTemplateWith parses words with the options o.
func ParseTemplateWith(words []string, o TemplateOptions) (*template, error) {
	return parseTemplate(words, templateOptions{quote: o.Quote, plus: o.Plus, context: o.Context, noAppend: o.NoAppend, rename: o.Rename})
}

// ExpandJob expands t for job seq in slot of jobs slots, of total jobs.
func ExpandJob(t *template, seq int64, slot, jobs int, total int64, args []string) string {
	return t.expand(jobInfo{seq: seq, slot: slot, jobs: jobs, total: total}, args, true)
}

// Skip is the template's {uniq}/{choose_k} verdict.
func Skip(t *template, args []string) bool { return t.skip(args) }

// WithNames is the template with --header's names.
func WithNames(t *template, names []string) (*template, error) { return t.withNames(names) }

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

// QuoteArg is the shell quoting of values.
var QuoteArg = quoteArg
