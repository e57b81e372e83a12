package runner

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// An Input is one input source of a run, as GNU parallel has them: the
// values of a ":::" group, or the lines of a "::::" file or of standard
// input. Several inputs combine as a cross product, the last varying
// fastest; an input marked Linked (":::+", "::::+") is instead paired
// element by element with the one before it, stopping at the shorter.
//
// An input with no values at all counts as one empty value, as in GNU
// parallel, so "echo ::: a :::" runs `echo a ""`; when every input is
// empty, no job runs.
//
// Only the first group of inputs is streamed; the later ones are read
// into memory once, since the cross product revisits them.
type Input struct {
	// Values are the arguments of a ":::" group.
	Values []string
	// Reader, when non-nil, supplies the input as lines (records ending in
	// the run's separator) instead of Values.
	Reader io.Reader
	// Name names the reader in error messages, for example the file name.
	Name string
	// Linked pairs this input with the previous one instead of crossing it.
	Linked bool
}

// An InputError reports an input record that cannot become an argument.
type InputError struct {
	Name string // the input's name
	Line int64  // the record's number, from 1
	Err  error
}

func (e *InputError) Error() string {
	return fmt.Sprintf("runner: %s: record %d: %v", e.Name, e.Line, e.Err)
}

func (e *InputError) Unwrap() error { return e.Err }

// ErrNulByte is wrapped by an InputError for a record holding a NUL byte,
// which no program can receive as an argument; use -0 for NUL-separated
// input.
var ErrNulByte = errors.New("contains a NUL byte (use -0 for NUL-separated input)")

// ErrCSV is wrapped by the InputError for a record that is not valid CSV
// (--csv), such as one with an unclosed quote.
var ErrCSV = errors.New("not valid CSV")

// ErrBadColSep is wrapped by Run's error for a --colsep that --csv cannot
// use.
var ErrBadColSep = errors.New("runner: bad --colsep")

// readOpts say how the records of every input are read and cleaned: the
// separator (newline, -0 or -d), -L's continued lines, -E, -r, the split
// into columns (--colsep, --csv) and --trim.
type readOpts struct {
	sep       []byte
	colsep    *regexp.Regexp
	csv       bool
	comma     rune
	trim      Trim
	eof       string
	skip      bool // -r: records that are only blanks make no job
	contLines bool // -L: a line ending in a blank goes on on the next
	header    bool // the first record of each input names its columns
	fileNames bool // --header 0: files are named by their names
}

// readOpts returns how c's inputs are read, or an error for options that
// do not go together.
func (c *Config) readOpts() (readOpts, error) {
	o := readOpts{sep: []byte{'\n'}, colsep: c.ColSep, csv: c.CSV, comma: ',', trim: c.Trim,
		eof: c.EOF, skip: c.NoRunIfEmpty, contLines: c.MaxLines > 0,
		header: c.Header != nil && *c.Header != "0", fileNames: c.Header != nil && *c.Header == "0"}
	switch {
	case c.Delimiter != nil:
		o.sep = []byte(*c.Delimiter)
	case c.Null:
		o.sep = []byte{0}
	}
	if c.CSV && c.ColSep != nil {
		src := []rune(c.ColSep.String())
		if len(src) == 2 && src[0] == '\\' {
			src = src[1:] // a quoted punctuation character
		}
		if len(src) != 1 || src[0] == '"' || src[0] == '\r' || src[0] == '\n' {
			return o, badValue(ErrBadColSep, "%q: --csv needs one character other than a quote or a line break", c.ColSep.String())
		}
		o.comma, o.colsep = src[0], nil
	}
	if o.trim == TrimDefault && o.colsep != nil && !o.csv {
		// GNU parallel trims columns unless told otherwise.
		o.trim = TrimBoth
	}
	if o.header && !o.csv && o.colsep == nil {
		// GNU parallel splits a --header's names, and so the records, at
		// tabs when no --colsep says otherwise.
		o.colsep = tabSep
	}
	return o, nil
}

var tabSep = regexp.MustCompile("\t")

// record turns one raw record into its columns. It reports false for a
// record -r skips.
func (o *readOpts) record(raw string, name string, n int64) ([]string, bool, error) {
	if o.skip && strings.TrimSpace(raw) == "" {
		return nil, false, nil
	}
	var cols []string
	switch {
	case o.csv:
		var err error
		if cols, err = parseCSV(raw, o.comma); err != nil {
			return nil, false, &InputError{Name: name, Line: n, Err: err}
		}
	case o.colsep != nil:
		cols = o.colsep.Split(raw, -1)
	default:
		cols = []string{raw}
	}
	if o.trim > TrimNone {
		for i, c := range cols {
			cols[i] = trim(c, o.trim)
		}
	}
	return cols, true, nil
}

// parseCSV reads one CSV record with encoding/csv. An empty line is one
// empty field, as in GNU parallel.
func parseCSV(raw string, comma rune) ([]string, error) {
	if raw == "" {
		return []string{""}, nil
	}
	r := csv.NewReader(strings.NewReader(raw))
	r.Comma = comma
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if err == nil {
		// A record is one line unless a quoted field holds line breaks.
		if _, err2 := r.Read(); err2 != io.EOF {
			err = errors.New("more than one record")
		}
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%w: %v", ErrCSV, err)
	}
	return rec, nil
}

// csvOpen reports whether raw ends inside a quoted CSV field, so the
// record goes on after the separator.
func csvOpen(raw string) bool {
	return strings.Count(raw, `"`)%2 == 1
}

// endsBlank reports whether a line ends in a blank, which -L reads as
// going on on the next line.
func endsBlank(s string) bool {
	return strings.HasSuffix(s, " ") || strings.HasSuffix(s, "\t")
}

// trim removes white space from the ends of v as --trim says.
func trim(v string, t Trim) string {
	switch t {
	case TrimLeft:
		return strings.TrimLeft(v, blanks)
	case TrimRight:
		return strings.TrimRight(v, blanks)
	case TrimBoth:
		return strings.Trim(v, blanks)
	}
	return v
}

// blanks are the white space --trim removes (Perl's \s).
const blanks = " \t\n\r\f\v"

// source yields the records of one Input.
type source interface {
	next() ([]string, error) // io.EOF at the end
}

type valueSource struct {
	vals []string
	i    int
	opts *readOpts
}

func (s *valueSource) next() ([]string, error) {
	for s.i < len(s.vals) {
		v := s.vals[s.i]
		s.i++
		if s.opts.eof != "" && v == s.opts.eof {
			s.i = len(s.vals)
			break
		}
		cols, ok, err := s.opts.record(v, "::: values", int64(s.i))
		if err != nil {
			return nil, err
		}
		if ok {
			return cols, nil
		}
	}
	return nil, io.EOF
}

type lineSource struct {
	r    *bufio.Reader
	opts *readOpts
	name string
	n    int64
	buf  []byte
	done bool // -E was seen
}

// readRaw reads one record without its separator; io.EOF at the end.
func (s *lineSource) readRaw() (string, error) {
	sep := s.opts.sep
	last := sep[len(sep)-1]
	s.buf = s.buf[:0]
	for {
		chunk, err := s.r.ReadSlice(last)
		s.buf = append(s.buf, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			if len(s.buf) == 0 {
				return "", io.EOF
			}
			break
		}
		if err != nil {
			return "", usageErr("reading "+s.name, err)
		}
		if bytes.HasSuffix(s.buf, sep) {
			s.buf = s.buf[:len(s.buf)-len(sep)]
			break
		}
	}
	s.n++
	return string(s.buf), nil
}

func (s *lineSource) next() ([]string, error) {
	for !s.done {
		raw, err := s.readRaw()
		if err != nil {
			return nil, err
		}
		for s.opts.contLines && endsBlank(raw) || s.opts.csv && csvOpen(raw) {
			more, err := s.readRaw()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			if s.opts.csv {
				raw += string(s.opts.sep)
			}
			raw += more
		}
		if s.opts.eof != "" && raw == s.opts.eof {
			s.done = true
			break
		}
		if len(s.opts.sep) != 1 || s.opts.sep[0] != 0 {
			if strings.IndexByte(raw, 0) >= 0 {
				return nil, &InputError{Name: s.name, Line: s.n, Err: ErrNulByte}
			}
		}
		cols, ok, err := s.opts.record(raw, s.name, s.n)
		if err != nil {
			return nil, err
		}
		if ok {
			return cols, nil
		}
	}
	return nil, io.EOF
}

// linked pairs sources element by element; it ends with the shortest.
type linked []source

func (l linked) next() ([]string, error) {
	var row []string
	for _, s := range l {
		r, err := s.next()
		if err != nil {
			return nil, err
		}
		row = append(row, r...)
	}
	return row, nil
}

// argIter walks the cross product of the input groups.
type argIter struct {
	first source
	rest  [][][]string // materialised later groups
	idx   []int
	cur   []string // current row of the first group
	done  bool
	// names are the column names --header read, in the order of the
	// columns of a record; nil without --header.
	names []string
}

// blankIfEmpty yields the records of a source whose first record (or
// io.EOF) was read already; an empty source yields one empty value.
type blankIfEmpty struct {
	src   source
	first []string
	eof   bool
}

func peek(s source) (*blankIfEmpty, error) {
	r, err := s.next()
	if err == io.EOF {
		return &blankIfEmpty{src: s, first: []string{""}, eof: true}, nil
	}
	if err != nil {
		return nil, err
	}
	return &blankIfEmpty{src: s, first: r}, nil
}

func (b *blankIfEmpty) next() ([]string, error) {
	if b.first != nil {
		r := b.first
		b.first = nil
		return r, nil
	}
	if b.eof {
		return nil, io.EOF
	}
	return b.src.next()
}

func newArgIter(inputs []Input, opts readOpts) (*argIter, error) {
	var groups []linked
	allEmpty := true
	it := &argIter{}
	headerOnly := false
	for _, in := range inputs {
		var s source
		if in.Reader != nil {
			name := in.Name
			if name == "" {
				name = "input"
			}
			s = &lineSource{r: bufio.NewReaderSize(in.Reader, 64<<10), opts: &opts, name: name}
		} else {
			s = &valueSource{vals: in.Values, opts: &opts}
		}
		if opts.header {
			names, err := s.next()
			if err == io.EOF {
				// An input with no header at all has nothing to run.
				headerOnly = true
				continue
			}
			if err != nil {
				return nil, err
			}
			it.names = append(it.names, names...)
		}
		b, err := peek(s)
		if err != nil {
			return nil, err
		}
		if opts.fileNames {
			// --header 0: a file's name stands for its first column.
			cols := make([]string, len(b.first))
			if in.Reader != nil && len(cols) > 0 {
				cols[0] = in.Name
			}
			it.names = append(it.names, cols...)
		}
		allEmpty = allEmpty && b.eof
		headerOnly = headerOnly || opts.header && b.eof
		s = b
		if in.Linked && len(groups) > 0 {
			groups[len(groups)-1] = append(groups[len(groups)-1], s)
		} else {
			groups = append(groups, linked{s})
		}
	}
	if len(groups) == 0 || allEmpty || headerOnly {
		// With --header, an input that holds only its header leaves no
		// job to run, as in GNU parallel.
		it.done = true
		return it, nil
	}
	it.first = groups[0]
	for _, g := range groups[1:] {
		var rows [][]string
		for {
			r, err := g.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			rows = append(rows, r)
		}
		if len(rows) == 0 {
			it.done = true
		}
		it.rest = append(it.rest, rows)
	}
	it.idx = make([]int, len(it.rest))
	return it, nil
}

// Next returns the arguments of the next job, or io.EOF.
func (it *argIter) Next() ([]string, error) {
	if it.done {
		return nil, io.EOF
	}
	if it.cur == nil || it.advance() {
		r, err := it.first.next()
		if err != nil {
			if err == io.EOF {
				it.done = true
			}
			return nil, err
		}
		it.cur = r
		clear(it.idx)
	}
	args := make([]string, 0, len(it.cur)+len(it.rest))
	args = append(args, it.cur...)
	for i, rows := range it.rest {
		args = append(args, rows[it.idx[i]]...)
	}
	return args, nil
}

// advance steps the odometer over the later groups and reports whether it
// wrapped, so the first group must move on.
func (it *argIter) advance() bool {
	for i := len(it.idx) - 1; i >= 0; i-- {
		it.idx[i]++
		if it.idx[i] < len(it.rest[i]) {
			return false
		}
		it.idx[i] = 0
	}
	return true
}

// ErrBadDelimiter is wrapped by the error Unescape returns.
var ErrBadDelimiter = errors.New("runner: bad delimiter")

// Unescape resolves the backslash escapes of a -d delimiter as GNU
// parallel and printf do: \n, \t, \r, \a, \b, \f, \v, \\, octal \0 to
// \377 (one to three digits) and hexadecimal \xHH (one or two digits). A
// backslash before any other character, or at the end, stays as it is.
// The result must not be empty: records need something to end them.
func Unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch c = s[i]; c {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '\\':
			b.WriteByte('\\')
		case '0', '1', '2', '3', '4', '5', '6', '7':
			n, j := 0, i
			for ; j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7'; j++ {
				n = n*8 + int(s[j]-'0')
			}
			if n > 0xff {
				return "", badValue(ErrBadDelimiter, "%q: octal escape \\%s is more than one byte", s, s[i:j])
			}
			b.WriteByte(byte(n))
			i = j - 1
		case 'x':
			n, j := 0, i+1
			for ; j < len(s) && j < i+3 && isHex(s[j]); j++ {
				n = n*16 + hexVal(s[j])
			}
			if j == i+1 {
				// "\x" with no digit stays as it is, as in printf.
				b.WriteString(`\x`)
				continue
			}
			b.WriteByte(byte(n))
			i = j - 1
		default:
			b.WriteByte('\\')
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "", badValue(ErrBadDelimiter, "it must not be empty")
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) int {
	switch {
	case c >= 'a':
		return int(c-'a') + 10
	case c >= 'A':
		return int(c-'A') + 10
	}
	return int(c - '0')
}
