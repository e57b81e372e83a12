package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Pipe describes GNU parallel's --pipe family: instead of arguments, each
// job gets a block of data on its standard input. The data is standard
// input (--pipe) or a seekable file (--pipepart), cut into blocks of about
// BlockSize bytes that never split a record.
//
// With --pipe, crew reads Input a block at a time into one of Jobs
// buffers, so memory stays within Jobs × BlockSize plus the part of a
// record carried over to the next block; a job's buffer is free again
// once the job has taken the block into its pipe. When Input is a regular
// file (crew run --pipe < FILE), the blocks are found by reading only
// around their borders and moved from the file into the jobs' pipes by the
// kernel (splice(2)), never copied through crew; --pipepart always works
// that way, each job reading its part in parallel.
//
// Three of the Config's fields say more: MaxArgs (-N), when positive,
// makes every block exactly that many records (the last may hold fewer);
// MaxLines (-L) makes a record that many lines; Header (--header), a
// number of lines or a regular expression (":" is one line), is cut from
// the start of the data and repeated at the start of every block.
//
// A Pipe is used by one Run; it is not modified.
type Pipe struct {
	// Input is the data cut into blocks (--pipe). It is ignored with Part.
	Input io.Reader
	// Part, when set, names the seekable file the blocks come from
	// (--pipepart -a FILE).
	Part string

	// BlockSize is the size of a block in bytes (--block); 0 means 1 MiB,
	// or with Part ten blocks per job slot. With Part a negative -n means n
	// blocks per job slot. A block grows past BlockSize to hold a record
	// longer than it (with a warning, as in GNU parallel).
	BlockSize int64
	// RecEnd and RecStart delimit records (--recend, --recstart): a block
	// ends only where RecEnd is followed by RecStart. A nil RecEnd is a
	// newline, or "" when RecStart is set; two empty strings cut anywhere.
	RecEnd   *string
	RecStart string
	// Regexp reads RecEnd and RecStart as regular expressions (--regexp).
	Regexp bool
	// RemoveRecSep removes the record separators from each block before
	// its job reads it (--rrs): every RecEnd followed by RecStart inside
	// it, the RecStart it begins with and the RecEnd it ends with (before
	// a last newline, as GNU parallel's Perl $ reads it). The header, if
	// any, is left alone.
	RemoveRecSep bool

	// RoundRobin starts at most Jobs jobs and deals the blocks out to them
	// in turn, each job reading many blocks (--round-robin).
	RoundRobin bool
	// Cat writes each block to a temporary file and passes its name as the
	// job's argument ({}) instead of feeding standard input (--cat). Fifo
	// does the same with a named pipe (--fifo); a job that never opens it
	// is reported once it ends, instead of hanging the run.
	Cat, Fifo bool
}

// Sentinels for a Pipe that cannot work, wrapped by a UsageError.
var (
	// ErrBadBlock reports a --block size that is not a positive size.
	ErrBadBlock = errors.New("runner: bad block size")
	// ErrBadPipe reports --pipe options that do not go together, or that
	// go with the wrong kind of input.
	ErrBadPipe = errors.New("runner: bad --pipe options")
	// ErrHeader reports an input that ends before its --header does.
	ErrHeader = errors.New("runner: input shorter than its header")
)

// defaultBlock is --block's default, GNU parallel's 1M.
const defaultBlock = 1 << 20

// maxBlock bounds a block that grows to hold a long record, as GNU
// parallel bounds it (2 GiB - 1).
const maxBlock = 1<<31 - 1

// ParseBlockSize reads a --block size as GNU parallel does: a number,
// possibly with a fraction, then an optional unit: K, M, G, T, P multiply
// by powers of 1024, k, m, g, t, p by powers of 1000 ("Ki" is K). A
// negative size is returned as such (--pipepart's blocks per job slot);
// a size that is zero once rounded down is an error.
func ParseBlockSize(s string) (int64, error) {
	num := s
	if n := len(num); n >= 2 && num[n-1] == 'i' && strings.IndexByte("KMGTP", num[n-2]) >= 0 {
		num = num[:n-1]
	}
	mult := 1.0
	if n := len(num); n > 0 {
		if i := strings.IndexByte("KMGTP", num[n-1]); i >= 0 {
			mult = float64(int64(1) << (10 * (i + 1)))
			num = num[:n-1]
		} else if i := strings.IndexByte("kmgtp", num[n-1]); i >= 0 {
			for range i + 1 {
				mult *= 1000
			}
			num = num[:n-1]
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	v := f * mult
	if err != nil || v != v || v > 1<<50 || v < -(1<<50) {
		return 0, badValue(ErrBadBlock, "%q (want a size such as 10M, 512k or 4096)", s)
	}
	if int64(v) == 0 {
		return 0, badValue(ErrBadBlock, "%q: a block must hold at least one byte", s)
	}
	return int64(v), nil
}

// pipeSpec is a Pipe checked and with its defaults applied.
type pipeSpec struct {
	Pipe
	records, lines int    // -N, -L
	header         string // --header as given
	block          int64
	perSlot        int64 // --pipepart's blocks per job slot (negative --block)
	sp             *splitter
	headerRe       *regexp.Regexp
	rrs            *recSepRemover // --rrs
}

func (p *Pipe) spec(cfg *Config) (*pipeSpec, error) {
	bad := func(format string, args ...any) error { return badValue(ErrBadPipe, format, args...) }
	s := &pipeSpec{Pipe: *p, block: p.BlockSize, records: cfg.MaxArgs, lines: cfg.MaxLines}
	if cfg.Header != nil {
		s.header = *cfg.Header
	}
	switch {
	case len(cfg.Inputs) > 0:
		return nil, bad("--pipe takes its data from standard input (or --pipepart -a FILE), not from ::: or :::: arguments")
	case p.Part == "" && p.Input == nil:
		return nil, bad("no input to cut into blocks")
	case p.Cat && p.Fifo:
		return nil, bad("--cat and --fifo cannot be used together")
	case s.records < 0:
		return nil, bad("-N must not be negative, got %d", s.records)
	case s.lines < 0:
		return nil, bad("-L must not be negative, got %d", s.lines)
	case p.Part != "" && (s.records > 0 || s.lines > 0):
		return nil, bad("--pipepart cannot count records (-N) or lines (-L): it finds block borders without reading the blocks; use --recstart/--recend")
	case p.Part == "" && p.BlockSize < 0:
		return nil, badValue(ErrBadBlock, "%d: a negative --block (blocks per job slot) needs --pipepart", p.BlockSize)
	case p.RoundRobin && (p.Cat || p.Fifo):
		return nil, bad("--round-robin feeds long-running jobs on standard input; it cannot be used with --cat or --fifo")
	}
	if s.block == 0 {
		s.block = defaultBlock
		if p.Part != "" {
			s.block = -10
			if p.RoundRobin {
				s.block = -1
			}
		}
	}
	if s.block < 0 {
		s.perSlot, s.block = -s.block, 0 // sized once the file's size is known
	}
	s.block = min(s.block, maxBlock)
	end, start := "\n", p.RecStart
	switch {
	case p.RecEnd != nil:
		end = *p.RecEnd
	case p.RecStart != "":
		end = ""
	}
	if p.Regexp && end == "" && start == "" {
		end = "(?s:.)" // GNU parallel's reading of --regexp --recend ''
	}
	if !p.Regexp {
		end, start = unescapeRec(end), unescapeRec(start)
	}
	sp, err := newSplitter(end, start, p.Regexp)
	if err != nil {
		return nil, err
	}
	if p.RemoveRecSep {
		if s.rrs, err = newRecSepRemover(end, start, p.Regexp); err != nil {
			return nil, bad("--rrs: %v", err)
		}
	}
	if s.records > 0 {
		sp.records = s.records * max(s.lines, 1)
	} else {
		sp.lines = s.lines
	}
	s.sp = sp
	if h := s.header; h != "" {
		if h == ":" {
			h = "1"
		}
		if n, err := strconv.Atoi(h); err == nil && n >= 0 {
			h = strings.Repeat(`.*\n`, n)
		}
		re, err := regexp.Compile(`\A(?:` + h + `)`)
		if err != nil {
			return nil, bad("--header %q: %v", s.header, err)
		}
		s.headerRe = re
	}
	return s, nil
}

// unescapeRec resolves the backslash escapes GNU parallel reads in a
// literal --recend or --recstart: \0 \r \n \t \' \" and \\.
func unescapeRec(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			if c, ok := recEscapes[s[i+1]]; ok {
				b.WriteByte(c)
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var recEscapes = map[byte]byte{'0': 0, 'r': '\r', 'n': '\n', 't': '\t', '\'': '\'', '"': '"', '\\': '\\'}

// headerError is the error for an input that ends inside its header.
func headerError(header string, got int) error {
	return &UsageError{
		Msg: fmt.Sprintf("%s: --header %q: the input ends after %d bytes, before its header does", strings.TrimPrefix(ErrHeader.Error(), "runner: "), header, got),
		Err: ErrHeader,
	}
}

// recSepRemover takes the record separators out of a block (--rrs), in
// GNU parallel's three steps: every end followed by a start, then a start
// at the block's beginning, then an end at its end. Literal separators
// are matched as bytes (they need not be UTF-8), --regexp ones with
// regexp.
type recSepRemover struct {
	end, start           []byte // literal
	between, first, last *regexp.Regexp
}

func newRecSepRemover(end, start string, isRegexp bool) (*recSepRemover, error) {
	if !isRegexp {
		return &recSepRemover{end: []byte(end), start: []byte(start)}, nil
	}
	var r recSepRemover
	var err error
	// Perl's s///m for the first step (^ and $ in the user's patterns
	// match at lines), s///s for the others (. matches a newline), and
	// Perl's $, which matches at the end or before a last newline.
	if r.between, err = regexp.Compile(`(?m)(?:` + end + `)(?:` + start + `)`); err != nil {
		return nil, err
	}
	if r.first, err = regexp.Compile(`(?s)\A(?:` + start + `)`); err != nil {
		return nil, err
	}
	if r.last, err = regexp.Compile(`(?s)(?:` + end + `)(\n?)\z`); err != nil {
		return nil, err
	}
	return &r, nil
}

func (r *recSepRemover) remove(b []byte) []byte {
	if r.between != nil {
		b = r.between.ReplaceAll(b, nil)
		b = r.first.ReplaceAll(b, nil)
		return r.last.ReplaceAll(b, []byte("$1"))
	}
	if sep := append(r.end[:len(r.end):len(r.end)], r.start...); len(sep) > 0 {
		b = bytes.ReplaceAll(b, sep, nil)
	}
	b = bytes.TrimPrefix(b, r.start)
	switch {
	case bytes.HasSuffix(b, r.end):
		b = b[:len(b)-len(r.end)]
	case len(b) > len(r.end) && b[len(b)-1] == '\n' && bytes.HasSuffix(b[:len(b)-1], r.end):
		b = append(b[:len(b)-1-len(r.end)], '\n')
	}
	return b
}

// rrsSource hands out src's blocks with their record separators removed.
type rrsSource struct {
	src blockSource
	rrs *recSepRemover
}

func (s *rrsSource) next(ctx context.Context) (*pipeIn, error) {
	in, err := s.src.next(ctx)
	if err != nil {
		return nil, err
	}
	header := in.header
	in.header = nil
	b, err := in.bytes()
	if err != nil {
		in.release()
		return nil, err
	}
	// A copy: b may be the source's buffer, which release gives back.
	out := &pipeIn{header: header, data: s.rrs.remove(bytes.Clone(b))}
	in.release()
	return out, nil
}
