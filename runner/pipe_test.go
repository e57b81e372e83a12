package runner_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crew/runner"
)

func str(s string) *string { return &s }

// TestPipeBlocks: blocks as GNU parallel cuts them (the compat cases
// check the same against GNU parallel itself), cut alike from a stream
// and from a file.
func TestPipeBlocks(t *testing.T) {
	for _, c := range []struct {
		name string
		data string
		pipe runner.Pipe
		cfg  runner.Config
		want []string
	}{
		{"lines", "aaaa\nbbbb\ncccc\ndddd\n", runner.Pipe{BlockSize: 12}, runner.Config{}, []string{"aaaa\nbbbb\n", "cccc\ndddd\n"}},
		{"exact_multiple", "ab\ncd\n", runner.Pipe{BlockSize: 3}, runner.Config{}, []string{"ab\n", "cd\n"}},
		{"longer_record_grows", "aaaaaaaaaa\nb\n", runner.Pipe{BlockSize: 4}, runner.Config{}, []string{"aaaaaaaaaa\n", "b\n"}},
		{"no_final_newline", "a\nb", runner.Pipe{BlockSize: 2}, runner.Config{}, []string{"a\n", "b"}},
		{"records", "1\n2\n3\n4\n5\n", runner.Pipe{}, runner.Config{MaxArgs: 2}, []string{"1\n2\n", "3\n4\n", "5\n"}},
		{"lines_per_record", "1\n2\n3\n4\n5\n", runner.Pipe{BlockSize: 4}, runner.Config{MaxLines: 2}, []string{"1\n2\n", "3\n4\n", "5\n"}},
		{"header", "h\n1\n2\n3\n", runner.Pipe{}, runner.Config{MaxArgs: 2, Header: str("1")}, []string{"h\n1\n2\n", "h\n3\n"}},
		{"header_only", "h\n", runner.Pipe{}, runner.Config{Header: str("1")}, nil},
		{"recstart", ">a\nx\n>b\n", runner.Pipe{RecStart: ">"}, runner.Config{MaxArgs: 1}, []string{">a\nx\n", ">b\n"}},
		{"recend_escape", "a;b;c;", runner.Pipe{RecEnd: str(`;`), BlockSize: 3}, runner.Config{}, []string{"a;", "b;", "c;"}},
		{"recend_recstart", "x\n>a\nc>\n>d", runner.Pipe{RecStart: ">", RecEnd: str(`\n`)}, runner.Config{MaxArgs: 1}, []string{"x\n", ">a\nc>\n", ">d"}},
		{"binary", "abcdefg", runner.Pipe{RecEnd: str(""), BlockSize: 3}, runner.Config{}, []string{"abc", "def", "g"}},
		{"regexp", "x1\nA\ny2\n", runner.Pipe{Regexp: true, RecEnd: str(`[0-9]\n`)}, runner.Config{MaxArgs: 1}, []string{"x1\n", "A\ny2\n"}},
		{"empty", "", runner.Pipe{}, runner.Config{}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, asFile := range []bool{false, true} {
				got, _, err := runner.PipeBlocks(t.TempDir(), []byte(c.data), c.pipe, c.cfg, asFile)
				if err != nil {
					t.Fatalf("file %v: %v", asFile, err)
				}
				var gs []string
				for _, b := range got {
					gs = append(gs, string(b))
				}
				if strings.Join(gs, "|") != strings.Join(c.want, "|") || len(gs) != len(c.want) {
					t.Errorf("file %v: blocks %q, want %q", asFile, gs, c.want)
				}
			}
		})
	}
}

// TestPipeBadInput: what cannot work is one error, before any job runs.
func TestPipeBadInput(t *testing.T) {
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	for _, c := range []struct {
		name string
		pipe runner.Pipe
		cfg  runner.Config
		in   string
		want error
	}{
		{"values", runner.Pipe{}, runner.Config{Inputs: []runner.Input{{Values: []string{"a"}}}}, "", runner.ErrBadPipe},
		{"negative_records", runner.Pipe{}, runner.Config{MaxArgs: -1}, "a\n", runner.ErrBadPipe},
		{"negative_block", runner.Pipe{BlockSize: -1}, runner.Config{}, "a\n", runner.ErrBadBlock},
		{"part_records", runner.Pipe{Part: "x"}, runner.Config{MaxArgs: 2}, "", runner.ErrBadPipe},
		{"part_missing", runner.Pipe{Part: filepath.Join(dir, "missing")}, runner.Config{}, "", os.ErrNotExist},
		{"header_longer", runner.Pipe{}, runner.Config{Header: str("3")}, "a\n", runner.ErrHeader},
		{"bad_regexp", runner.Pipe{Regexp: true, RecEnd: str("(")}, runner.Config{}, "a\n", runner.ErrBadPipe},
		{"cat_and_fifo", runner.Pipe{Cat: true, Fifo: true}, runner.Config{}, "a\n", runner.ErrBadPipe},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			p := c.pipe
			if p.Part == "" {
				p.Input = strings.NewReader(c.in)
			}
			cfg.Pipe, cfg.Command, cfg.Jobs, cfg.Executor = &p, []string{"touch", ran}, 2, runner.Local{}
			_, err := runner.Run(context.Background(), cfg)
			var ue *runner.UsageError
			if !errors.Is(err, c.want) || !errors.As(err, &ue) {
				t.Errorf("err %v, want a UsageError wrapping %v", err, c.want)
			}
			if _, err := os.Stat(ran); err == nil {
				t.Errorf("a job ran")
			}
		})
	}
}

// TestPipeParseBlockSize: GNU parallel's units, and no empty block.
func TestPipeParseBlockSize(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "1k": 1000, "1K": 1024, "1Ki": 1024, "1.5k": 1500, "10M": 10 << 20, "2m": 2e6, "1G": 1 << 30, "-10": -10, "2.5": 2} {
		if got, err := runner.ParseBlockSize(in); err != nil || got != want {
			t.Errorf("ParseBlockSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "0.5", "", "k", "1X", "abc", "1e400"} {
		if _, err := runner.ParseBlockSize(in); !errors.Is(err, runner.ErrBadBlock) {
			t.Errorf("ParseBlockSize(%q): %v, want ErrBadBlock", in, err)
		}
	}
}

// TestPipeRetries: a retried job gets its block again.
func TestPipeRetries(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	_, err := runner.Run(context.Background(), runner.Config{
		Command:  []string{`n=$(cat ` + dir + `/n 2>/dev/null || echo 0); echo $((n+1)) > ` + dir + `/n; wc -l; [ $n -ge 1 ]`},
		Pipe:     &runner.Pipe{Input: strings.NewReader("a\nb\nc\n")},
		Jobs:     1,
		Retries:  2,
		Executor: runner.Local{},
		Stdout:   &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != "3" {
		t.Errorf("output %q, want the second try's 3 (the whole block again)", got)
	}
}

// TestPipeFromPipe: standard input that is a pipe, with blocks big
// enough to be spliced into the jobs (see pumpSource): whether the jobs
// keep up (cat), fall behind (a slow start) or stop reading at once, the
// blocks are whole records and put together are the input.
func TestPipeFromPipe(t *testing.T) {
	var data bytes.Buffer
	// 9-byte lines, so that blocks of 1 MiB end inside a line.
	for i := range 360_000 {
		fmt.Fprintf(&data, "%08d\n", i)
	}
	for _, c := range []struct{ name, cmd string }{
		{"keeps_up", "cat; echo ="},
		{"slow", "sleep 0.1; cat; echo ="},
		{"stops_reading", "head -c 8; echo ="},
	} {
		t.Run(c.name, func(t *testing.T) {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				pw.Write(data.Bytes())
				pw.Close()
			}()
			defer pr.Close()
			var out bytes.Buffer
			_, err = runner.Run(context.Background(), runner.Config{
				Command:   []string{c.cmd},
				Pipe:      &runner.Pipe{Input: pr, BlockSize: 1 << 20},
				Jobs:      2,
				KeepOrder: true,
				Executor:  runner.Local{},
				Stdout:    &out,
			})
			if err != nil {
				t.Fatal(err)
			}
			blocks := strings.Split(strings.TrimSuffix(out.String(), "=\n"), "=\n")
			if len(blocks) != 4 { // 3.2 MB in blocks of 1 MiB
				t.Fatalf("%d blocks, want 4", len(blocks))
			}
			if c.name == "stops_reading" {
				for i, b := range blocks {
					if len(b) != 8 || bytes.IndexByte([]byte(b), '\n') >= 0 {
						t.Errorf("block %d starts %q, not with a whole record", i, b)
					}
				}
				return
			}
			if got := strings.Join(blocks, ""); got != data.String() {
				t.Errorf("the blocks put together are not the input (%d bytes, want %d)", len(got), data.Len())
			}
			for i, b := range blocks {
				if len(b) > 1<<20 || !strings.HasSuffix(b, "\n") {
					t.Errorf("block %d: %d bytes ending %q", i, len(b), b[max(len(b)-8, 0):])
				}
			}
		})
	}
}
