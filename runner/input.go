package runner

import (
	"bufio"
	"bytes"
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

// source yields the records of one Input.
type source interface {
	next() ([]string, error) // io.EOF at the end
}

type valueSource struct {
	vals []string
	i    int
}

func (s *valueSource) next() ([]string, error) {
	if s.i >= len(s.vals) {
		return nil, io.EOF
	}
	s.i++
	return []string{s.vals[s.i-1]}, nil
}

type lineSource struct {
	r      *bufio.Reader
	sep    byte
	colsep *regexp.Regexp
	name   string
	n      int64
	buf    []byte
}

func (s *lineSource) next() ([]string, error) {
	s.buf = s.buf[:0]
	for {
		chunk, err := s.r.ReadSlice(s.sep)
		s.buf = append(s.buf, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(s.buf) == 0 {
			return nil, io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, usageErr("reading "+s.name, err)
		}
		break
	}
	s.n++
	rec := s.buf
	if rec[len(rec)-1] == s.sep {
		rec = rec[:len(rec)-1]
	}
	if s.sep != 0 && bytes.IndexByte(rec, 0) >= 0 {
		return nil, &InputError{Name: s.name, Line: s.n, Err: ErrNulByte}
	}
	if s.colsep != nil {
		return s.colsep.Split(string(rec), -1), nil
	}
	return []string{string(rec)}, nil
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

func newArgIter(inputs []Input, sep byte, colsep *regexp.Regexp) (*argIter, error) {
	var groups []linked
	allEmpty := true
	for _, in := range inputs {
		var s source
		if in.Reader != nil {
			name := in.Name
			if name == "" {
				name = "input"
			}
			s = &lineSource{r: bufio.NewReaderSize(in.Reader, 64<<10), sep: sep, colsep: colsep, name: name}
		} else {
			s = &valueSource{vals: in.Values}
		}
		b, err := peek(s)
		if err != nil {
			return nil, err
		}
		allEmpty = allEmpty && b.eof
		s = b
		if in.Linked && len(groups) > 0 {
			groups[len(groups)-1] = append(groups[len(groups)-1], s)
		} else {
			groups = append(groups, linked{s})
		}
	}
	it := &argIter{}
	if len(groups) == 0 || allEmpty {
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
