package runner_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"crew/internal/cli"
)

var (
	record      = flag.String("record", "", "record GNU parallel's answers into the cases files whose names match this glob (e.g. '*' or 'pipe.json')")
	parallelAll = flag.Bool("parallel-all", false, "check every recorded answer against the installed GNU parallel, not a sample")
)

// The cases live in testdata/compat/*.json, one file per family of
// flags, so that work on different flags touches different files.
const casesDir = "testdata/compat"

// A compatCase is one command line with its input, and what GNU parallel
// answered: standard output and exit status. Standard error is not
// compared; its wording is the tool's own.
type compatCase struct {
	Name     string `json:"name"`
	file     string
	Args     []string          `json:"args"`
	Stdin    string            `json:"stdin,omitempty"`
	StdinHex string            `json:"stdin_hex,omitempty"`
	Files    map[string]string `json:"files,omitempty"`

	// Recorded from GNU parallel; StdoutHex when it is not valid UTF-8.
	Stdout    string `json:"stdout"`
	StdoutHex string `json:"stdout_hex,omitempty"`
	Exit      int    `json:"exit"`

	// Differs, when set, names the entry of DIFFERENCES.md that explains
	// why crew answers CrewStdout and CrewExit instead.
	Differs    string  `json:"differs,omitempty"`
	CrewStdout *string `json:"crew_stdout,omitempty"`
	CrewExit   *int    `json:"crew_exit,omitempty"`
}

func (c *compatCase) stdin() []byte {
	if c.StdinHex != "" {
		b, _ := hex.DecodeString(c.StdinHex)
		return b
	}
	return []byte(c.Stdin)
}

func (c *compatCase) want() (string, int) {
	out := c.Stdout
	if c.StdoutHex != "" {
		b, _ := hex.DecodeString(c.StdoutHex)
		out = string(b)
	}
	if c.Differs != "" {
		if c.CrewStdout != nil {
			out = *c.CrewStdout
		}
		if c.CrewExit != nil {
			return out, *c.CrewExit
		}
	}
	return out, c.Exit
}

// args writes the case's files into dir and returns its arguments with
// file names made absolute.
//
// An argument holding @DIR@ has it replaced by dir, so a case can name
// files its run creates (--results, say); runParallel and runCrew write
// dir back as @DIR@ in the output.
func (c *compatCase) args(t testing.TB, dir string) []string {
	args := append([]string(nil), c.Args...)
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "@DIR@", dir)
	}
	for name, content := range c.Files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		for i, a := range args {
			if a == name {
				args[i] = p
			}
		}
	}
	return args
}

func loadCases(t testing.TB) []*compatCase {
	files, err := filepath.Glob(filepath.Join(casesDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no compatibility cases in %s: %v", casesDir, err)
	}
	var all []*compatCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cases []*compatCase
		if err := json.Unmarshal(b, &cases); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, c := range cases {
			c.file = f
		}
		all = append(all, cases...)
	}
	return all
}

// recordCases asks GNU parallel for the answers of the cases in the files
// matching glob and rewrites those files.
func recordCases(t *testing.T, cases []*compatCase, glob string) {
	if _, err := exec.LookPath("parallel"); err != nil {
		t.Fatal("-record needs GNU parallel")
	}
	byFile := map[string][]*compatCase{}
	var order []string
	for _, c := range cases {
		if ok, err := filepath.Match(glob, filepath.Base(c.file)); err != nil {
			t.Fatalf("-record %q: %v", glob, err)
		} else if !ok {
			continue
		}
		if byFile[c.file] == nil {
			order = append(order, c.file)
		}
		byFile[c.file] = append(byFile[c.file], c)
		out, code := runParallel(t, c)
		c.Stdout, c.StdoutHex, c.Exit = out, "", code
		if !utf8.ValidString(out) {
			c.Stdout, c.StdoutHex = "", hex.EncodeToString([]byte(out))
		}
	}
	if len(order) == 0 {
		t.Fatalf("-record %q matches no file in %s", glob, casesDir)
	}
	for _, f := range order {
		// Shell text reads better with its < > & as they are.
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", " ")
		if err := enc.Encode(byFile[f]); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func runParallel(t testing.TB, c *compatCase) (string, int) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "parallel", append([]string{"--will-cite"}, c.args(t, dir)...)...)
	cmd.Stdin = bytes.NewReader(c.stdin())
	cmd.Env = append(os.Environ(), "PARALLEL_HOME="+dir)
	out, err := cmd.Output()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("parallel: %v", err)
	}
	return strings.ReplaceAll(string(out), dir, "@DIR@"), code
}

func runCrew(t testing.TB, c *compatCase) (string, int) {
	var out, errb bytes.Buffer
	dir := t.TempDir()
	args := append([]string{"run"}, c.args(t, dir)...)
	code := cli.MainArgs(args, cli.Streams{In: bytes.NewReader(c.stdin()), Out: &out, Err: &errb})
	return strings.ReplaceAll(out.String(), dir, "@DIR@"), code
}

// TestCompat runs every recorded case through crew run and compares with
// GNU parallel's recorded answer. With parallel installed it also checks
// that the recorded answers still hold; with -record it rewrites them.
func TestCompat(t *testing.T) {
	cases := loadCases(t)
	if *record != "" {
		recordCases(t, cases, *record)
	}
	if len(cases) < 40 {
		t.Errorf("only %d compatibility cases; want at least 40", len(cases))
	}
	_, perr := exec.LookPath("parallel")
	haveParallel := perr == nil && *record == ""
	for i, c := range cases {
		// GNU parallel takes most of a second to start on a loaded machine,
		// so by default a rotating sample of cases is checked against it.
		checkParallel := haveParallel && (*parallelAll || i%6 == time.Now().YearDay()%6)
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			wantOut, wantExit := c.want()
			out, code := runCrew(t, c)
			if out != wantOut || code != wantExit {
				t.Errorf("crew run %q\n got: exit %d, stdout %q\nwant: exit %d, stdout %q", c.Args, code, out, wantExit, wantOut)
			}
			if checkParallel {
				pOut, pCode := runParallel(t, c)
				recOut, _ := (&compatCase{Stdout: c.Stdout, StdoutHex: c.StdoutHex}).want()
				if pOut != recOut || pCode != c.Exit {
					t.Errorf("GNU parallel no longer answers as recorded (rerun with -record)\n got: exit %d, stdout %q\nrecorded: exit %d, stdout %q", pCode, pOut, c.Exit, recOut)
				}
			}
		})
	}
}
