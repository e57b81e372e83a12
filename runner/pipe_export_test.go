package runner

import (
	"context"
	"io"
	"os"
	"path/filepath"
)

// PipeBlocks cuts data into the blocks --pipe would give its jobs, each
// with its header: as a stream (through at most two buffers) or, with
// asFile, as a regular file on standard input, which only the simple
// cases read that way (ok reports whether it did).
func PipeBlocks(dir string, data []byte, p Pipe, c Config, asFile bool) (blocks [][]byte, ok bool, err error) {
	if asFile {
		name := filepath.Join(dir, "in")
		if err := os.WriteFile(name, data, 0o600); err != nil {
			return nil, false, err
		}
		f, err := os.Open(name)
		if err != nil {
			return nil, false, err
		}
		defer f.Close()
		p.Input = f
	} else {
		p.Input = &onlyReader{data}
	}
	s, err := p.spec(&c)
	if err != nil {
		return nil, false, err
	}
	feed := &pipeFeed{spec: s, jobs: 2, local: true, ctx: context.Background(), warn: func(string) {}}
	if err := feed.openInput(s); err != nil {
		return nil, false, err
	}
	defer feed.close()
	_, ok = feed.src.(*fileCutter)
	for {
		in, err := feed.src.next(context.Background())
		if err == io.EOF {
			return blocks, ok, nil
		}
		if err != nil {
			return blocks, ok, err
		}
		b, err := in.bytes()
		if err != nil {
			return blocks, ok, err
		}
		blocks = append(blocks, append([]byte(nil), b...))
		in.release()
	}
}

// onlyReader hides bytes.Reader's other methods: a stream, not a file.
type onlyReader struct{ b []byte }

func (r *onlyReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// RemoveRecSep is what --rrs makes of one block (without a header).
func RemoveRecSep(block []byte, end, start string, isRegexp bool) ([]byte, error) {
	r, err := newRecSepRemover(end, start, isRegexp)
	if err != nil {
		return nil, err
	}
	return r.remove(block), nil
}
