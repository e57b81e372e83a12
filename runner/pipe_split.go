package runner

import (
	"bytes"
	"regexp"
	"sort"
)

// A splitter knows where a block may end: at a split position, where a
// record's end (--recend) is followed by the next record's start
// (--recstart). Position 0 is never one: a block holds at least a byte.
//
// It cuts a buffer the way GNU parallel cuts its read buffer in each round
// (see cut), so that crew's blocks are GNU parallel's blocks.
type splitter struct {
	end, start string // literal --recend, --recstart
	sep        []byte // end + start
	// With --regexp: re matches a record end followed by a record start,
	// the start as its first group; startRe is the start, anchored.
	re, startRe *regexp.Regexp
	// records is -N times -L (at least 1): records per block; lines is -L
	// without -N: lines per record, one block per round.
	records, lines int
	garbageSeen    bool
}

func newSplitter(end, start string, isRegexp bool) (*splitter, error) {
	s := &splitter{end: end, start: start, sep: []byte(end + start)}
	if !isRegexp {
		return s, nil
	}
	re, err := regexp.Compile(`(?s:` + end + `)((?s:` + start + `))`)
	if err != nil {
		return nil, badValue(ErrBadPipe, "--recend/--recstart with --regexp: %v", err)
	}
	startRe, err := regexp.Compile(`\A(?s:` + start + `)`)
	if err != nil {
		return nil, badValue(ErrBadPipe, "--recstart with --regexp: %v", err)
	}
	s.re, s.startRe = re, startRe
	return s, nil
}

// nextSplit returns the first split position in buf after the position
// after, or -1.
func (s *splitter) nextSplit(buf []byte, after int) int {
	if s.re != nil {
		ps := s.reSplits(buf)
		i := sort.SearchInts(ps, after+1)
		if i < len(ps) {
			return ps[i]
		}
		return -1
	}
	if len(s.sep) == 0 {
		if after+1 <= len(buf) {
			return after + 1
		}
		return -1
	}
	from := max(after+1-len(s.end), 0)
	i := bytes.Index(buf[from:], s.sep)
	if i < 0 {
		return -1
	}
	return from + i + len(s.end)
}

// lastSplit returns the last split position in buf, or -1.
func (s *splitter) lastSplit(buf []byte) int {
	if s.re != nil {
		if ps := s.reSplits(buf); len(ps) > 0 {
			return ps[len(ps)-1]
		}
		return -1
	}
	if len(s.sep) == 0 {
		if len(buf) > 0 {
			return len(buf)
		}
		return -1
	}
	i := bytes.LastIndex(buf, s.sep)
	if i < 0 || i+len(s.end) == 0 {
		return -1
	}
	return i + len(s.end)
}

// reSplits lists the split positions of buf under --regexp, in order.
func (s *splitter) reSplits(buf []byte) []int {
	var ps []int
	for _, m := range s.re.FindAllSubmatchIndex(buf, -1) {
		if p := m[2]; p > 0 && (len(ps) == 0 || p > ps[len(ps)-1]) {
			ps = append(ps, p)
		}
	}
	return ps
}

// cut returns where the blocks that buf begins with end, in order, as
// GNU parallel cuts its buffer after each read: one block up to the last
// split position (none when eof, since the caller passes the rest on
// whole); with records, every records-th split position; with lines, up
// to the last whole record of lines lines. What follows the last cut is
// carried over to the next round.
func (s *splitter) cut(buf []byte, eof bool) []int {
	switch {
	case s.lines > 0:
		n := bytes.Count(buf, []byte{'\n'})
		k := n - n%s.lines
		if k == 0 {
			return nil
		}
		p := 0
		for range k {
			p += bytes.IndexByte(buf[p:], '\n') + 1
		}
		return []int{p}
	case s.records > 0:
		var cuts []int
		cur := 0
		if s.re != nil && !s.garbageSeen && len(buf) > 0 {
			// Whatever comes before the first record start is a block of
			// its own, not counted as a record.
			s.garbageSeen = true
			if !s.startRe.Match(buf) {
				if p := s.nextSplit(buf, 0); p > 0 {
					cuts, cur = append(cuts, p), p
				}
			}
		}
		for {
			p := cur
			for range s.records {
				if p = s.nextSplit(buf, p); p < 0 {
					return cuts
				}
			}
			cuts, cur = append(cuts, p), p
		}
	default:
		if eof {
			return nil
		}
		if p := s.lastSplit(buf); p > 0 {
			return []int{p}
		}
		return nil
	}
}

// simple reports whether blocks can be found from their borders alone,
// without reading what lies between: a literal separator, no -N, no -L.
func (s *splitter) simple() bool {
	return s.re == nil && s.records == 0 && s.lines == 0
}

// grow is the next block size when a record did not fit in one, as GNU
// parallel grows it.
func growBlock(b int64) int64 {
	return min((b*13+9)/10+1, maxBlock)
}
