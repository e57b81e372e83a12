package runner

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The forms of --results, as GNU parallel tells them apart: a name ending
// in .csv, .tsv or .json is a table of one record per job (-.csv, -.tsv
// and -.json write it to standard output); a name holding a replacement
// string names each job's own files; any other name is a directory tree
// of the jobs' arguments.
type resultsKind uint8

const (
	resultsTree resultsKind = iota
	resultsNamed
	resultsCSV
	resultsTSV
	resultsJSON
)

// results stores the jobs' output for --results and --files instead of
// writing it to Stdout and Stderr. Its methods are called with the run's
// output lock held, one job at a time, in the order output is written.
type results struct {
	kind  resultsKind
	name  string
	tmpl  *template // resultsNamed
	files bool      // --files: print the name of the file holding stdout

	table   io.Writer // the table forms' destination
	closer  io.Closer // the table file, nil for standard output
	columns int       // V columns in the table's header, once written
	// names are the column names --header read: with them, the tree's
	// directories and the table's V columns are named, as in GNU parallel.
	names []string
}

// newResults opens what cfg's --results and --files need: the table
// file, truncated as GNU parallel does, even if no job runs. names are
// the column names --header read, for {name} in a --results name and for
// the tree's directories and the table's columns.
func newResults(cfg *Config, names []string) (*results, error) {
	if cfg.Results == "" && !cfg.Files {
		return nil, nil
	}
	s := &results{name: cfg.Results, files: cfg.Files, names: names}
	switch {
	case cfg.Results == "":
		return s, nil
	case strings.HasSuffix(cfg.Results, ".csv"):
		s.kind = resultsCSV
	case strings.HasSuffix(cfg.Results, ".tsv"):
		s.kind = resultsTSV
	case strings.HasSuffix(cfg.Results, ".json"):
		s.kind = resultsJSON
	default:
		t, err := cfg.fileTemplate(cfg.Results)
		if err == nil {
			t, err = t.withNames(names)
		}
		if err == nil && t.repl {
			s.kind, s.tmpl = resultsNamed, t
		}
		return s, nil
	}
	if strings.HasPrefix(filepath.Base(cfg.Results), "-.") && filepath.Dir(cfg.Results) == "." {
		s.table = cfg.Stdout
		return s, nil
	}
	f, err := os.Create(cfg.Results)
	if err != nil {
		return nil, usageErr("results", err)
	}
	s.table, s.closer = f, f
	return s, nil
}

// isTable reports whether the jobs' records go into one file.
func (s *results) isTable() bool { return s != nil && s.kind >= resultsCSV }

func (s *results) close() error {
	if s == nil || s.closer == nil {
		return nil
	}
	return s.closer.Close()
}

// record is what --results keeps of one finished job.
type record struct {
	job  *Job
	res  Result
	args []string
}

// store keeps one job's output and returns what to print on standard
// output in its place: with --files, the name of the file holding it.
func (s *results) store(rec *record, out, errb *spillBuffer) (string, error) {
	var outFile string
	switch {
	case s.kind == resultsTree && s.name != "":
		p := s.name
		for i, a := range rec.args {
			p = filepath.Join(p, s.column(i), resultName(a))
		}
		if err := writeJobFiles(filepath.Join(p, "seq"), filepath.Join(p, "stdout"), filepath.Join(p, "stderr"), rec.job.Seq, out, errb); err != nil {
			return "", err
		}
		outFile = filepath.Join(p, "stdout")
	case s.kind == resultsNamed:
		p := s.tmpl.expand(jobInfo{seq: rec.job.Seq, slot: rec.job.Slot, total: -1}, rec.args, false)
		if strings.HasSuffix(p, "/") {
			outFile = filepath.Join(p, "stdout")
			err := writeJobFiles(filepath.Join(p, "seq"), outFile, filepath.Join(p, "stderr"), rec.job.Seq, out, errb)
			if err != nil {
				return "", err
			}
		} else {
			outFile = p
			if err := writeJobFiles(p+".seq", p, p+".err", rec.job.Seq, out, errb); err != nil {
				return "", err
			}
		}
	case s.files:
		// --files alone, or with a table: the output goes to a file of
		// its own, and the table's Stdout column names that file.
		f, err := os.CreateTemp("", "par*.par")
		if err != nil {
			return "", usageErr("files", err)
		}
		err = out.writeTo(f, "")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", usageErr("files", err)
		}
		outFile = f.Name()
	}
	if s.isTable() {
		var stdout []byte
		if s.files {
			stdout = []byte(outFile)
		} else {
			var err error
			if stdout, err = out.bytes(); err != nil {
				return "", usageErr("results", err)
			}
		}
		stderr, err := errb.bytes()
		if err != nil {
			return "", usageErr("results", err)
		}
		if err := s.writeRecord(rec, stdout, stderr); err != nil {
			return "", usageErr("results", err)
		}
	}
	if !s.files {
		return "", nil
	}
	return outFile, nil
}

// column names the directory of argument i in the tree: its --header
// name, or its number from 1.
func (s *results) column(i int) string {
	if i < len(s.names) && s.names[i] != "" {
		return resultName(s.names[i])
	}
	return strconv.Itoa(i + 1)
}

// writeJobFiles writes a job's number (no newline, as GNU parallel), its
// standard output and its standard error, creating their directories.
func writeJobFiles(seqPath, outPath, errPath string, seq int64, out, errb *spillBuffer) error {
	for _, p := range []string{seqPath, outPath, errPath} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return usageErr("results", err)
		}
	}
	if err := os.WriteFile(seqPath, []byte(strconv.FormatInt(seq, 10)), 0o644); err != nil {
		return usageErr("results", err)
	}
	for _, w := range []struct {
		path string
		b    *spillBuffer
	}{{outPath, out}, {errPath, errb}} {
		f, err := os.Create(w.path)
		if err != nil {
			return usageErr("results", err)
		}
		err = w.b.writeTo(f, "")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return usageErr("results", err)
		}
	}
	return nil
}

// resultName makes an argument usable as one path element; GNU parallel
// writes a slash as \_ and so does crew.
func resultName(a string) string {
	a = strings.ReplaceAll(a, "\\", "\\\\")
	a = strings.ReplaceAll(a, "/", "\\_")
	switch a {
	case "", ".", "..":
		return "\\" + a
	}
	if len(a) > 255 {
		a = a[:255]
	}
	return a
}

// tableColumns are the columns of a --results table before the V columns,
// the joblog's.
var tableColumns = []string{"Seq", "Host", "Starttime", "JobRuntime", "Send", "Receive", "Exitval", "Signal", "Command"}

// writeRecord adds one job's record to the table, in GNU parallel's
// format: a header line first for CSV and TSV, with as many V columns as
// the first job has arguments; then one line per job.
func (s *results) writeRecord(rec *record, stdout, stderr []byte) error {
	r := rec.res
	exit := r.Exit
	switch {
	case r.TimedOut:
		exit = -1
	case r.Signal != 0:
		exit = 0
	}
	start := strconv.FormatFloat(float64(r.Start.UnixMilli())/1000, 'f', 3, 64)
	runtime := strconv.FormatFloat(r.Runtime.Seconds(), 'f', 3, 64)
	var b bytes.Buffer
	if s.kind == resultsJSON {
		fmt.Fprintf(&b, `{ "Seq": %d, "Host": %s, "Starttime": %s, "JobRuntime": %s, "Send": %d, "Receive": %d, "Exitval": %d, "Signal": %d, "Command": %s, "V": [ `,
			rec.job.Seq, jsonString(r.Host), start, runtime, r.Send, r.Receive, exit, r.Signal, jsonString(rec.job.Command))
		for i, a := range rec.args {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(jsonString(a))
		}
		fmt.Fprintf(&b, " ], \"Stdout\": %s, \"Stderr\": %s }\n", jsonString(string(stdout)), jsonString(string(stderr)))
		_, err := s.table.Write(b.Bytes())
		return err
	}
	sep := byte(',')
	if s.kind == resultsTSV {
		sep = '\t'
	}
	row := func(fields []string) {
		for i, f := range fields {
			if i > 0 {
				b.WriteByte(sep)
			}
			b.WriteString(tableField(f, sep))
		}
		b.WriteByte('\n')
	}
	if s.columns == 0 {
		s.columns = max(len(rec.args), 1)
		head := append([]string(nil), tableColumns...)
		for i := range s.columns {
			name := "V" + strconv.Itoa(i+1)
			if i < len(s.names) && s.names[i] != "" {
				name = s.names[i]
			}
			head = append(head, name)
		}
		row(append(head, "Stdout", "Stderr"))
	}
	fields := []string{strconv.FormatInt(rec.job.Seq, 10), r.Host, start, runtime,
		strconv.FormatInt(r.Send, 10), strconv.FormatInt(r.Receive, 10),
		strconv.Itoa(exit), strconv.Itoa(r.Signal), rec.job.Command}
	fields = append(fields, rec.args...)
	row(append(fields, string(stdout), string(stderr)))
	_, err := s.table.Write(b.Bytes())
	return err
}

// tableField quotes a CSV or TSV field the way GNU parallel's writer
// does: in double quotes, with quotes doubled, when it holds the
// separator, a quote, a space, a tab, a carriage return or a newline.
func tableField(f string, sep byte) string {
	if !strings.ContainsAny(f, "\" \t\r\n") && strings.IndexByte(f, sep) < 0 {
		return f
	}
	return `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
}

// jsonString quotes s as GNU parallel's --results .json does: backslash
// and double quote escaped, control characters as \u00XX, every other
// byte as it is.
func jsonString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// store hands a finished job's output to --results or --files; r.outMu
// is held. Only --files prints: each job's file name, after its tag. Its
// standard error still goes to Stderr unless --results keeps it.
func (r *run) store(p *pending) {
	defer p.out.release()
	defer p.err.release()
	if p.rec == nil {
		return
	}
	name, err := r.res.store(p.rec, p.out, p.err)
	if err != nil {
		r.setErr(err)
		return
	}
	if !r.res.files {
		return
	}
	if _, err := io.WriteString(r.cfg.Stdout, p.tag+name+"\n"); err != nil {
		r.firstErrLocked(err)
	}
	if r.cfg.Results == "" {
		if err := p.err.writeTo(r.cfg.Stderr, p.tag); err != nil {
			r.firstErrLocked(err)
		}
	}
}
